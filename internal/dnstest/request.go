package dnstest

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/query"
)

// Client is the address Request's queries come from (TEST-NET-1).
var Client = netip.MustParseAddrPort("192.0.2.53:5353")

// Request builds a client's UDP query as the listener hands it to the
// chain: RD set, CD as given, EDNS with DO (UDP size 1232) when do is set.
// For tests of a step below the listeners (cache, dnssec).
func Request(name string, qtype uint16, do, cd bool) *query.Request {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.CheckingDisabled = cd
	if do {
		m.SetEdns0(1232, true)
	}
	return query.NewRequest(m, Client, query.ProtoUDP)
}
