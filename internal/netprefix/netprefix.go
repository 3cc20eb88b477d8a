// Package netprefix parses the client networks config sections list (the
// ACL, trusted balancers, tenants), so that every section accepts the same
// spellings: a CIDR network, or a bare address meaning that one host.
package netprefix

import "net/netip"

// Parse parses "198.51.100.0/24", "2001:db8::/32" or "192.0.2.1" (a /32;
// an IPv6 address is a /128). Host bits are masked off, so
// "10.1.2.3/8" is 10.0.0.0/8.
func Parse(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
