package dnswire

import (
	"net/netip"

	"github.com/miekg/dns"
)

// Addr is the address of an A or AAAA record: an IPv4 address for A (not
// 4-in-6), IPv6 for AAAA. ok is false for other types and for a record
// whose address is missing or malformed. Bootstrap, glue and RPZ answers
// all read addresses out of records this one way.
func Addr(rr dns.RR) (a netip.Addr, ok bool) {
	switch rr := rr.(type) {
	case *dns.A:
		return netip.AddrFromSlice(rr.A.To4())
	case *dns.AAAA:
		return netip.AddrFromSlice(rr.AAAA.To16())
	}
	return netip.Addr{}, false
}
