package dnswire

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestAddr(t *testing.T) {
	hdr := func(rrtype uint16) dns.RR_Header {
		return dns.RR_Header{Name: "ns.example.", Rrtype: rrtype, Class: dns.ClassINET, Ttl: 60}
	}
	tests := []struct {
		name string
		rr   dns.RR
		want netip.Addr // invalid: ok false
	}{
		{"A", &dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP("192.0.2.1")}, netip.MustParseAddr("192.0.2.1")},
		{"A in 16-byte form is IPv4", &dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP("::ffff:192.0.2.2")}, netip.MustParseAddr("192.0.2.2")},
		{"AAAA", &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP("2001:db8::1")}, netip.MustParseAddr("2001:db8::1")},
		{"A with an IPv6 address", &dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP("2001:db8::1")}, netip.Addr{}},
		{"A without an address", &dns.A{Hdr: hdr(dns.TypeA)}, netip.Addr{}},
		{"AAAA without an address", &dns.AAAA{Hdr: hdr(dns.TypeAAAA)}, netip.Addr{}},
		{"other type", &dns.NS{Hdr: hdr(dns.TypeNS), Ns: "ns.example."}, netip.Addr{}},
	}
	for _, tt := range tests {
		a, ok := Addr(tt.rr)
		if ok != tt.want.IsValid() || a != tt.want {
			t.Errorf("%s: Addr = %v, %v; want %v, %v", tt.name, a, ok, tt.want, tt.want.IsValid())
		}
	}
}
