package cache

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// FuzzWire feeds arbitrary upstream answers through the cache's wire form:
// the TTL-offset walk must stay inside the message, and an answer that is
// stored must decode (by the shape decoders and by miekg/dns alike) to
// exactly what its wire form says, aged or stale, for any client spelling.
func FuzzWire(f *testing.F) {
	seed := func(qname string, qtype uint16, rcode int, ans, ns []dns.RR) {
		m := new(dns.Msg)
		m.SetQuestion(qname, qtype)
		m.Response, m.RecursionAvailable, m.Rcode = true, true, rcode
		m.Answer, m.Ns, m.Compress = ans, ns, true
		if w, err := m.Pack(); err == nil {
			f.Add(w, "WwW.ExAmple.")
		}
	}
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "cdn.www.example."}
	aaaa := &dns.AAAA{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 60}, AAAA: net.ParseIP("2001:db8::1")}
	seed("www.example.", dns.TypeA, 0, []dns.RR{a("www.example.", 300, "192.0.2.1")}, nil)
	seed("www.example.", dns.TypeA, 0, []dns.RR{cname, a("cdn.www.example.", 30, "192.0.2.1"), a("cdn.www.example.", 30, "192.0.2.2")}, nil)
	seed("www.example.", dns.TypeAAAA, 0, []dns.RR{aaaa, aaaa}, nil)
	seed("www.example.", dns.TypeANY, 0, []dns.RR{aaaa, a("www.example.", 300, "192.0.2.1"), cname}, nil)
	seed("www.example.", dns.TypeA, dns.RcodeNameError, nil, []dns.RR{soa("example.", 300, 60)})
	seed("www.example.", dns.TypeMX, 0, nil, []dns.RR{soa("example.", 300, 60)})
	seed("www.example.", dns.TypeA, dns.RcodeServerFailure, nil, nil)
	bogus := new(dns.Msg).SetQuestion("www.example.", dns.TypeA)
	bogus.Response, bogus.Rcode = true, dns.RcodeServerFailure
	bogus.SetEdns0(1232, true)
	bogus.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeSignatureExpired, ExtraText: "expired"}}
	if w, err := bogus.Pack(); err == nil {
		f.Add(w, "www.EXAMPLE.")
	}

	cfg := testConfig()
	c := New(cfg, &fakeNext{}, nil, nil, nil)
	f.Cleanup(c.Close)
	f.Fuzz(func(t *testing.T, w []byte, spelling string) {
		if offs, ok := ttlOffsets(w); ok {
			for _, off := range offs {
				if int(off)+4 > len(w) {
					t.Fatalf("TTL offset %d outside %d bytes", off, len(w))
				}
			}
		}
		resp := new(dns.Msg)
		if resp.Unpack(w) != nil || len(resp.Question) != 1 {
			return
		}
		q := resp.Question[0]
		req := contract.NewRequest(new(dns.Msg).SetQuestion(q.Name, q.Qtype), netip.MustParseAddrPort("192.0.2.53:53"), contract.ProtoUDP)
		req.Question.Qclass, req.Msg.Question[0].Qclass = q.Qclass, q.Qclass
		// A client asking the same name spelt its way (0x20), if spelling
		// is one: same length, same letters up to case.
		client := req
		if len(spelling) == len(q.Name) && canonicalName(spelling) == canonicalName(q.Name) {
			client = contract.NewRequest(new(dns.Msg).SetQuestion(spelling, q.Qtype), req.Client, contract.ProtoUDP)
			client.Question.Qclass, client.Msg.Question[0].Qclass = q.Qclass, q.Qclass
		}
		// Decoded and packed again (the recursive resolver's answers), and
		// as received (the forwarder's, relayed).
		if e := c.newEntry(c.key(req), resp, epoch()); e != nil && response(&e.meta, e.body, req, 0, false) != nil {
			checkEntry(t, e, client)
		}
		if e := c.wireEntry(c.key(req), w, nil, epoch()); e != nil && response(&e.meta, e.body, req, 0, false) != nil {
			stored := bodyWire(e.body)
			if len(stored) != len(w) || !sameButTTLs(e.body, w) {
				t.Fatalf("relayed answer not stored as received:\n%x\n%x", stored, w)
			}
			checkEntry(t, e, client)
		}
	})
}

// sameButTTLs reports whether body's wire is w but for the ID and the TTL
// fields.
func sameButTTLs(body, w []byte) bool {
	a, b := append([]byte(nil), bodyWire(body)...), append([]byte(nil), w...)
	a[0], a[1], b[0], b[1] = 0, 0, 0, 0
	for i := range bodyRecords(body) {
		off := bodyTTLOffset(body, i)
		copy(a[off:off+4], b[off:off+4])
	}
	return string(a) == string(b)
}

// checkEntry checks that a stored entry decodes, by the shape decoders and
// by miekg/dns alike, to exactly what its wire form says, aged or stale.
func checkEntry(t *testing.T, e *entry, client *contract.Request) {
	stored := bodyWire(e.body)
	for _, at := range []struct {
		age   uint32
		stale bool
	}{{0, false}, {1, false}, {1 << 31, false}, {0, true}} {
		got := response(&e.meta, e.body, client, at.age, at.stale)
		if got != nil && e.ede {
			// The EDEs ride in an OPT of their own, last; the
			// wire form has none.
			opt, ok := got.Extra[len(got.Extra)-1].(*dns.OPT)
			if !ok || len(opt.Option) == 0 {
				t.Fatalf("EDE answer without its OPT: %v", got)
			}
			got.Extra = got.Extra[:len(got.Extra)-1]
			if len(got.Extra) == 0 {
				got.Extra = nil
			}
		}
		wire := appendAnswer(nil, e.body, client, at.age, at.stale)
		want := new(dns.Msg)
		if err := want.Unpack(wire); err != nil {
			t.Fatalf("stored wire form does not unpack: %v", err)
		}
		want.Compress = true
		if got == nil || got.String() != want.String() {
			t.Fatalf("shape %d, age %d, stale %v: decoded\n%v\nwire says\n%v", e.shape, at.age, at.stale, got, want)
		}
		for i := range bodyRecords(e.body) {
			off := bodyTTLOffset(e.body, i)
			have, max := binary.BigEndian.Uint32(wire[off:]), binary.BigEndian.Uint32(stored[off:])
			if at.stale && have != staleTTL || !at.stale && have > max {
				t.Fatalf("record %d: TTL %d served, stored %d", i, have, max)
			}
		}
	}
}
