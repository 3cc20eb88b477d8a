package dnstest

import "github.com/miekg/dns"

// FuzzMessage reads the two inputs the resolver's packet fuzz targets take,
// a DNS message and a domain name: ok is false (skip the input) unless wire
// unpacks to a message of one question and name is a domain name. name
// comes back in canonical form, as the code under test compares names.
func FuzzMessage(wire []byte, name string) (m *dns.Msg, canon string, ok bool) {
	m = new(dns.Msg)
	if m.Unpack(wire) != nil || len(m.Question) != 1 {
		return nil, "", false
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, "", false
	}
	return m, dns.CanonicalName(name), true
}
