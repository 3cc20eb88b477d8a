package recursive

import (
	"bytes"
	"context"
	"testing"

	"github.com/miekg/dns"
)

// TestPackAnswer: the wire form of an answer is, octet for octet, what
// the cache packs Resolve's message into (compressed, ID 0), for answers
// it can carry; the others are left to the message.
func TestPackAnswer(t *testing.T) {
	rr := func(s string) dns.RR { return mustRR(t, s) }
	tests := []struct {
		name   string
		asked  string // the client's spelling
		qtype  uint16
		res    result
		packed bool
	}{
		{"one A", "www.example.test.", dns.TypeA, result{answer: []dns.RR{rr("www.example.test. 300 IN A 192.0.2.1")}}, true},
		{"the client's case", "WwW.ExAmple.test.", dns.TypeA, result{answer: []dns.RR{rr("www.example.test. 300 IN A 192.0.2.1"), rr("www.example.test. 300 IN A 192.0.2.2")}}, true},
		{"AAAA", "www.example.test.", dns.TypeAAAA, result{answer: []dns.RR{rr("www.example.test. 300 IN AAAA 2001:db8::1")}}, true},
		{"TXT", "www.example.test.", dns.TypeTXT, result{answer: []dns.RR{rr(`www.example.test. 300 IN TXT "v=spf1 -all"`)}}, true},
		{"with its RRSIG", "www.example.test.", dns.TypeA, result{answer: []dns.RR{
			rr("www.example.test. 300 IN A 192.0.2.1"),
			rr("www.example.test. 300 IN RRSIG A 13 3 300 20270101000000 20260101000000 12345 example.test. c2lnbmF0dXJl"),
		}}, true},
		{"NODATA without SOA", "www.example.test.", dns.TypeMX, result{}, true},
		{"a CNAME", "alias.example.test.", dns.TypeA, result{answer: []dns.RR{rr("alias.example.test. 300 IN CNAME www.example.test."), rr("www.example.test. 300 IN A 192.0.2.1")}}, false},
		{"MX: names in the data", "example.test.", dns.TypeMX, result{answer: []dns.RR{rr("example.test. 300 IN MX 10 mail.example.test.")}}, false},
		{"NXDOMAIN with its SOA", "nope.example.test.", dns.TypeA, result{rcode: dns.RcodeNameError, ns: []dns.RR{
			rr("example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300")}}, false},
		{"the root", ".", dns.TypeDNSKEY, result{answer: []dns.RR{rr(". 300 IN DNSKEY 257 3 13 a2V5")}}, false},
		{"an extended rcode", "www.example.test.", dns.TypeA, result{rcode: dns.RcodeBadVers}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := dns.Question{Name: tt.asked, Qtype: tt.qtype, Qclass: dns.ClassINET}
			got := packAnswer(q, dns.CanonicalName(tt.asked), tt.res)
			if !tt.packed {
				if got != nil {
					t.Fatalf("packed % x, want the message", got)
				}
				return
			}
			// What Resolve returns, and the cache packs (newEntry).
			m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Rcode: tt.res.rcode, RecursionAvailable: true},
				Compress: true, Question: []dns.Question{q}}
			for _, r := range tt.res.answer {
				r = dns.Copy(r)
				r.Header().Name = tt.asked
				m.Answer = append(m.Answer, r)
			}
			want, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("packed\n% x\nwant\n% x", got, want)
			}
		})
	}
}

// TestResolveAnswerWire: an address answer comes in wire form, decoding
// to Resolve's message; a chain comes as the message.
func TestResolveAnswerWire(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, nil)
	patient(r)
	tests := []struct {
		name string
		wire bool
	}{
		{"Www.Example.TEST.", true},
		{"alias.example.test.", false},
		{"nope.example.test.", false}, // NXDOMAIN: its SOA
	}
	for _, tt := range tests {
		ans, err := r.ResolveAnswer(context.Background(), request(tt.name, dns.TypeA))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (ans.Wire != nil) != tt.wire || (ans.Msg != nil) == tt.wire {
			t.Fatalf("%s: wire %v, message %v; want wire %v", tt.name, ans.Wire != nil, ans.Msg != nil, tt.wire)
		}
		if !tt.wire {
			continue
		}
		got := new(dns.Msg)
		if err := got.Unpack(ans.Wire); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		want := mustResolve(t, r, tt.name, dns.TypeA)
		if got.String() != want.String() {
			t.Errorf("%s: wire form\n%v\nwant\n%v", tt.name, got, want)
		}
	}
}
