package cache

import (
	"testing"

	"github.com/miekg/dns"
)

// refusesAliases is noAliases saying so up front, as the policy does.
type refusesAliases struct{ noAliases }

func (*refusesAliases) ServesAliases() bool { return false }

// BenchmarkAppendWireAlias is the fast path's look at a cached CNAME
// answer, which the policy refuses: it goes to the chain either way.
func BenchmarkAppendWireAlias(b *testing.B) {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "cdn.example."}
	c, _ := newTest(b, testConfig(), &fakeNext{reply: fixed(dns.RcodeSuccess, []dns.RR{cname, a("cdn.example.", 300, "192.0.2.1")}, nil)}, nil)
	q := query("www.example.", dns.TypeA, false, false)
	resolve(b, c, q)
	check := &refusesAliases{}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.AppendWire(buf[:0], q, check); ok {
			b.Fatal("served")
		}
	}
}
