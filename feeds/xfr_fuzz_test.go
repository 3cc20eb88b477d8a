package feeds

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/bindtest"
)

// fuzzZone is a small zone as the transfer source holds it.
const fuzzZone = "rpz.test.\t0\tin\tsoa\tns.rpz.test. h.rpz.test. 1 3600 600 86400 60\n" +
	"bad.example.rpz.test.\t0\tin\tcname\t.\n"

// FuzzReadIXFR feeds the answer section of any message through the IXFR
// reader and the delta it yields through applyDelta: a primary (or a
// man in the middle without TSIG) must not crash the feed, and a delta
// never leaves a deleted line in the zone.
func FuzzReadIXFR(f *testing.F) {
	soa := func(serial uint32) dns.RR {
		rr, _ := dns.NewRR("rpz.test. 60 IN SOA ns.rpz.test. h.rpz.test. " + strconv.FormatUint(uint64(serial), 10) + " 3600 600 86400 60")
		return rr
	}
	rr := func(s string) dns.RR { r, _ := dns.NewRR(s); return r }
	seeds := [][]dns.RR{
		{soa(2)},
		{soa(2), soa(1), rr("bad.example.rpz.test. 60 CNAME ."), soa(2), rr("new.example.rpz.test. 60 CNAME ."), soa(2)},
		{soa(3), soa(1), soa(2), rr("a.rpz.test. 60 A 192.0.2.1"), soa(2), rr("a.rpz.test. 60 A 192.0.2.1"), soa(3), soa(3)},
		{soa(2), rr("x.rpz.test. 60 CNAME ."), soa(2)},
		{soa(2), soa(1), rr("x.rpz.test. 60 CNAME .")},
	}
	for _, s := range seeds {
		m := new(dns.Msg)
		m.SetQuestion("rpz.test.", dns.TypeIXFR)
		m.Answer = s
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		m := new(dns.Msg)
		if m.Unpack(pkt) != nil {
			return
		}
		d, err := readIXFR(1, m.Answer)
		if err != nil || d.upToDate || d.full {
			return
		}
		out := string(applyDelta([]byte(fuzzZone), d.final, d.net))
		if !strings.HasPrefix(out, zoneLine(d.final)+"\n") {
			t.Fatalf("the new zone does not start with the new SOA:\n%s", out)
		}
		for line, present := range d.net {
			if n := strings.Count("\n"+out, "\n"+line+"\n"); present && n != 1 || !present && n != 0 && !strings.Contains(line, "\n") {
				t.Fatalf("line %q present %v appears %d times:\n%s", line, present, n, out)
			}
		}
	})
}

// FuzzHandleNotify sends any message to the NOTIFY handler of a Manager
// with a TSIG-keyed zone: it answers or refuses, never panics, and never
// accepts an unsigned or badly signed NOTIFY.
func FuzzHandleNotify(f *testing.F) {
	m, err := NewManager(Options{Blocklists: []ListConfig{{Name: "rpz", Source: "axfr://127.0.0.1:5300/rpz.test",
		TSIG: &TSIGConfig{Name: "k", Secret: "n8cpbB5+gbuRjSDUPbKt7LvPY3f1W3ZmzAx5prGzjbA="}}}})
	if err != nil {
		f.Fatal(err)
	}
	n := new(dns.Msg)
	n.SetNotify("rpz.test.")
	b, _ := n.Pack()
	f.Add(b)
	n.SetTsig("k.", dns.HmacSHA256, 300, 0)
	b, _, _ = dns.TsigGenerate(n, "n8cpbB5+gbuRjSDUPbKt7LvPY3f1W3ZmzAx5prGzjbA=", "", false)
	f.Add(b)
	from := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		msg := new(dns.Msg)
		if msg.Unpack(pkt) != nil {
			return
		}
		orig := slices.Clone(pkt)
		out := m.HandleNotify(pkt, msg, from)
		if !slices.Equal(pkt, orig) {
			t.Fatal("HandleNotify modified the packet")
		}
		if out == nil {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("the answer does not parse: %v", err)
		}
		if r.Rcode == dns.RcodeSuccess && dns.TsigVerify(pkt, "n8cpbB5+gbuRjSDUPbKt7LvPY3f1W3ZmzAx5prGzjbA=", "", false) != nil {
			t.Fatal("accepted a NOTIFY whose signature does not verify")
		}
	})
}

// FuzzSOAReply sends any datagram to the SOA query's UDP wait of a keyed
// source: it never panics, and what it takes as the answer is a response
// to the query's ID whose signature verifies against the query's MAC.
func FuzzSOAReply(f *testing.F) {
	c := newSOAReplyCase(f)
	f.Add(c.answer(f, bindtest.KeySecret, nil))
	f.Add(c.answer(f, "", nil))
	f.Add(c.answer(f, bindtest.WrongSecret, nil))
	f.Add(c.answer(f, bindtest.KeySecret, func(r *dns.Msg) { r.Question = nil }))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		r, ok, err := c.s.soaReply(slices.Clone(pkt), c.id, c.mac) // verifying rewrites the header
		if !ok || err != nil {
			return
		}
		if r == nil || r.Id != c.id || !r.Response {
			t.Fatalf("took %v as the answer", r)
		}
		if err := dns.TsigVerify(pkt, c.s.key.secret, c.mac, false); err != nil {
			t.Fatalf("took an answer whose signature does not verify: %v", err)
		}
	})
}
