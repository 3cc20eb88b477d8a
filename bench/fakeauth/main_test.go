package main

import (
	"testing"

	"github.com/miekg/dns"
)

func exchange(t *testing.T, s *server, m *dns.Msg) *dns.Msg {
	t.Helper()
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b, ok := s.answer(nil, q)
	if !ok {
		t.Fatalf("no answer to %v", m.Question)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	if r.Id != m.Id || !r.Response || !r.Authoritative || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("bad header: %v", r)
	}
	if len(r.Question) != 1 || r.Question[0] != m.Question[0] {
		t.Fatalf("question not echoed: %v", r.Question)
	}
	return r
}

func TestAnswers(t *testing.T) {
	s := &server{addr: [4]byte{203, 0, 113, 9}, ttl: 3600, missTTL: 300}

	m := new(dns.Msg).SetQuestion("Foo-Bar.Example.co.uk.", dns.TypeA)
	r := exchange(t, s, m)
	a, ok := r.Answer[0].(*dns.A)
	if len(r.Answer) != 1 || !ok || a.A.String() != "203.0.113.9" || a.Hdr.Ttl != 3600 ||
		a.Hdr.Name != "Foo-Bar.Example.co.uk." || !r.RecursionDesired {
		t.Fatalf("A answer: %v", r)
	}

	m = new(dns.Msg).SetQuestion("m1-2.MISS.bench.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	r = exchange(t, s, m)
	if r.Answer[0].Header().Ttl != 300 || r.IsEdns0() == nil {
		t.Fatalf("miss answer: %v", r)
	}

	m = new(dns.Msg).SetQuestion("example.com.", dns.TypeAAAA)
	r = exchange(t, s, m)
	if len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("NODATA: %v", r)
	}

	m = new(dns.Msg).SetQuestion("queries.fakeauth.invalid.", dns.TypeTXT)
	r = exchange(t, s, m)
	if txt, ok := r.Answer[0].(*dns.TXT); !ok || txt.Txt[0] != "4" {
		t.Fatalf("stats: %v", r)
	}

	resp := new(dns.Msg).SetQuestion("x.", dns.TypeA)
	resp.Response = true
	b, _ := resp.Pack()
	if _, ok := s.answer(nil, b); ok {
		t.Fatal("answered a response")
	}
}

func BenchmarkAnswer(b *testing.B) {
	s := &server{addr: [4]byte{203, 0, 113, 9}, ttl: 3600, missTTL: 300}
	q, _ := new(dns.Msg).SetQuestion("m1-2.miss.bench.test.", dns.TypeA).Pack()
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		s.answer(out[:0], q)
	}
}
