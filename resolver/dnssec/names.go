package dnssec

import (
	"bytes"

	"github.com/miekg/dns"
)

// canonLabels returns name's labels in wire form, ASCII lower case, root
// last omitted: the form RFC 4034 §6.1 orders names by. ok is false for a
// name that does not pack.
func canonLabels(name string) ([][]byte, bool) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return nil, false
	}
	var out [][]byte
	for off := 0; off < n; {
		l := int(buf[off])
		if l == 0 || off+1+l > n {
			break
		}
		lab := bytes.ToLower(buf[off+1 : off+1+l])
		out = append(out, lab)
		off += 1 + l
	}
	return out, true
}

// canonicalCompare orders two names as RFC 4034 §6.1 does: label by label
// from the right, each compared as lower-case octets. Names that do not
// pack sort first, consistently.
func canonicalCompare(a, b string) int {
	la, oka := canonLabels(a)
	lb, okb := canonLabels(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return -1
	case !okb:
		return 1
	}
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := bytes.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// isAncestorOrSelf reports whether name is at or below zone.
func isAncestorOrSelf(zone, name string) bool { return dns.IsSubDomain(zone, name) }

// parentName is name without its first label; the root's parent is the root.
func parentName(name string) string {
	if name == "." {
		return "."
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// commonAncestor is the deepest name both a and b are at or below.
func commonAncestor(a, b string) string {
	n := dns.CompareDomainName(a, b)
	return lastLabels(a, n)
}

// lastLabels is the suffix of name made of its last n labels.
func lastLabels(name string, n int) string {
	if n <= 0 {
		return "."
	}
	idx := dns.Split(name)
	if n >= len(idx) {
		return name
	}
	return name[idx[len(idx)-n]:]
}

// ancestorsBelow lists the names strictly below top down to name itself,
// from the top: for top "com." and name "a.b.com." it is b.com., a.b.com.
func ancestorsBelow(top, name string) []string {
	n := dns.CountLabel(name) - dns.CountLabel(top)
	out := make([]string, 0, max(n, 0))
	for i := n - 1; i >= 0; i-- {
		out = append(out, lastLabels(name, dns.CountLabel(top)+n-i))
	}
	return out
}

// isWildcardOwner reports whether name's first label is "*".
func isWildcardOwner(name string) bool { return len(name) >= 2 && name[0] == '*' && name[1] == '.' }

// hasType reports whether the type bitmap holds t.
func hasType(bitmap []uint16, t uint16) bool {
	for _, b := range bitmap {
		if b == t {
			return true
		}
	}
	return false
}
