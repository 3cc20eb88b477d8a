package dnswire

import "github.com/miekg/dns"

// SubstituteDNAME applies d to name (RFC 6672 §2.2): the labels of name
// below d's owner, followed by d's target. It reports false when the
// result is not a valid name (longer than 255 octets), where a server
// answers YXDOMAIN. The recursive resolver and the validator both follow
// DNAMEs and must agree on the result, so there is one copy.
func SubstituteDNAME(name string, d *dns.DNAME) (string, bool) {
	keep := dns.CountLabel(name) - dns.CountLabel(dns.CanonicalName(d.Hdr.Name))
	prefix := name // a DNAME at the root keeps every label
	if idx := dns.Split(name); keep < len(idx) {
		prefix = name[:idx[keep]]
	}
	target := dns.CanonicalName(d.Target)
	if target != "." {
		prefix += target
	}
	if _, ok := dns.IsDomainName(prefix); !ok || len(prefix) > 255 {
		return "", false
	}
	return prefix, true
}
