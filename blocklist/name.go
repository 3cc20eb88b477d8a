package blocklist

import (
	"fmt"
	"unsafe"
)

// Limits from RFC 1035 §2.3.4, in presentation form without the root dot.
const (
	MaxLabelLen = 63
	MaxNameLen  = 253
)

// CanonicalName validates a rule name and returns its canonical form: lower
// case, no trailing dot. Labels are 1-63 bytes of [a-z0-9_-] (underscore
// appears in real feeds) without a leading or trailing hyphen; the whole
// name is at most 253 bytes. IDNs must already be A-labels (xn--...).
// "." and "" are the root and return "" with a nil error.
func CanonicalName(s string) (string, error) {
	if s == "" || s == "." {
		return "", nil
	}
	if isCanonical(s) {
		return s, nil // feeds hand over canonical names; skip the full checks
	}
	return canonicalNameFull(s)
}

// Name is a name CanonicalName accepted, in the form it returned. Only
// this package makes one, so a Rule whose Name is a Name's own string
// (Rule.Canon) reaches the builder already checked: a parser that
// canonicalised its names hands them over without the builder checking
// every one again.
type Name struct{ s string }

// Canonical is CanonicalName returning a Name.
func Canonical(s string) (Name, error) {
	c, err := CanonicalName(s)
	if err != nil {
		return Name{}, err
	}
	return Name{c}, nil
}

// String returns the canonical name.
func (n Name) String() string { return n.s }

// holds reports whether s is n's own string: the same bytes in memory,
// not only equal ones, so that it costs no pass over s. A Rule whose Name
// was set to another string, even an equal one, is checked as usual.
func (n Name) holds(s string) bool {
	return len(s) > 0 && len(s) == len(n.s) && unsafe.StringData(s) == unsafe.StringData(n.s)
}

// ruleName is the canonical name of r for the builder: r.Canon's when it
// holds r.Name, else CanonicalName's.
func ruleName(r Rule) (string, error) {
	if r.Canon.holds(r.Name) {
		return r.Name, nil
	}
	return CanonicalName(r.Name)
}

// canonicalNameFull is CanonicalName without the fast path: it validates
// every byte and label and says what is wrong.
func canonicalNameFull(s string) (string, error) {
	if s == "" || s == "." {
		return "", nil
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if len(s) > MaxNameLen {
		return "", fmt.Errorf("name is %d bytes long, the maximum is %d", len(s), MaxNameLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
			default:
				if c >= 0x80 {
					return "", fmt.Errorf("non-ASCII character in %q: IDNs must be given as A-labels (xn--...)", s)
				}
				return "", fmt.Errorf("invalid character %q in %q", c, s)
			}
			continue
		}
		label := s[start:i]
		switch {
		case len(label) == 0:
			return "", fmt.Errorf("empty label in %q", s)
		case len(label) > MaxLabelLen:
			return "", fmt.Errorf("label %q is %d bytes long, the maximum is %d", label, len(label), MaxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return "", fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		start = i + 1
	}
	return toLowerASCII(s), nil
}

// canonByte marks the bytes a canonical label may hold: [a-z0-9_-].
var canonByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// isCanonical reports whether s is already what CanonicalName returns for
// it, in one table-driven pass, so Add costs little for input the feeds
// canonicalised. A false answer only means "take the full path".
func isCanonical(s string) bool {
	if len(s) > MaxNameLen {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			if !canonByte[s[i]] {
				return false
			}
			continue
		}
		n := i - start
		if n == 0 || n > MaxLabelLen || s[start] == '-' || s[i-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}
