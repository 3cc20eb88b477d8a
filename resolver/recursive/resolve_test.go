package recursive

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

func TestResolveAnswers(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, nil)
	soaZone := "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300"
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		ns     []string
	}{
		{"plain", "www.example.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"www.example.test. 300 IN A 192.0.2.1"}, nil},
		{"client's spelling kept", "WWW.Example.TEST.", dns.TypeAAAA, dns.RcodeSuccess,
			[]string{"WWW.Example.TEST. 300 IN AAAA 2001:db8::1"}, nil},
		{"in-zone CNAME", "alias.example.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"alias.example.test. 300 IN CNAME www.example.test.", "www.example.test. 300 IN A 192.0.2.1"}, nil},
		{"CNAME chain across zones and a glue-less delegation", "away.example.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"away.example.test. 300 IN CNAME www.shop.test.", "www.shop.test. 300 IN CNAME edge.cdn.example.",
				"edge.cdn.example. 60 IN A 192.0.2.80"}, nil},
		{"DNAME in zone", "x.old.example.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"old.example.test. 300 IN DNAME new.example.test.", "x.old.example.test. 300 IN CNAME x.new.example.test.",
				"x.new.example.test. 300 IN A 192.0.2.2"}, nil},
		{"DNAME to another zone", "x.moved.example.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"moved.example.test. 300 IN DNAME cdn.example.", "x.moved.example.test. 300 IN CNAME x.cdn.example.",
				"x.cdn.example. 60 IN A 192.0.2.81"}, nil},
		{"deep name", "a.b.c.d.e.f.g.h.i.j.k.l.example.test.", dns.TypeA, dns.RcodeSuccess,
			[]string{"a.b.c.d.e.f.g.h.i.j.k.l.example.test. 300 IN A 192.0.2.12"}, nil},
		{"NXDOMAIN", "nope.example.test.", dns.TypeA, dns.RcodeNameError, nil, []string{soaZone}},
		{"NXDOMAIN at the TLD", "nope.test.", dns.TypeA, dns.RcodeNameError, nil,
			[]string{"test. 60 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"}},
		{"NODATA", "www.example.test.", dns.TypeMX, dns.RcodeSuccess, nil, []string{soaZone}},
		{"empty non-terminal", "c.d.e.f.g.h.i.j.k.l.example.test.", dns.TypeA, dns.RcodeSuccess, nil, []string{soaZone}},
		{"CNAME to NXDOMAIN", "dangling.example.test.", dns.TypeA, dns.RcodeNameError,
			[]string{"dangling.example.test. 300 IN CNAME nope.example.test."}, []string{soaZone}},
		{"DS from the parent", "example.test.", dns.TypeDS, dns.RcodeSuccess,
			[]string{"example.test. 86400 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}, nil},
		{"NS from the child", "example.test.", dns.TypeNS, dns.RcodeSuccess,
			[]string{"example.test. 3600 IN NS ns1.example.test.", "example.test. 3600 IN NS ns2.example.test."}, nil},
		{"root NS", ".", dns.TypeNS, dns.RcodeSuccess, []string{". 518400 IN NS a.root-servers.test."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustResolve(t, r, tt.qname, tt.qtype)
			if m.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := rrs(m.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer\n%q\nwant\n%q", got, tt.answer)
			}
			if got := rrs(m.Ns); !slices.Equal(got, tt.ns) {
				t.Errorf("authority %q, want %q", got, tt.ns)
			}
			if len(m.Extra) != 0 || m.Authoritative || !m.RecursionAvailable || !m.Response {
				t.Errorf("extra %v AA=%v RA=%v QR=%v; want no additional records, not AA, RA, QR", m.Extra, m.Authoritative, m.RecursionAvailable, m.Response)
			}
			if len(m.Question) != 1 || m.Question[0].Name != tt.qname || m.Question[0].Qtype != tt.qtype {
				t.Errorf("question %v", m.Question)
			}
		})
	}
	if t.Failed() {
		t.Logf("queries seen:\n%s", seen(h))
	}
}

// TestMetricsPerQuery: the upstream queries histogram counts exactly what
// the servers received; a glue-less delegation shows as depth 1.
func TestMetricsPerQuery(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, reg := newResolver(t, h, nil)
	patient(r)
	mustResolve(t, r, "www.shop.test.", dns.TypeA) // shop.test. is served by ns.dns-host.example: no glue
	n, sum := histogram(t, reg, "bulwark_recursion_upstream_queries")
	if n != 1 || int(sum) != h.Count() {
		t.Errorf("upstream_queries: %d samples, sum %v; servers saw %d", n, sum, h.Count())
	}
	if n, sum := histogram(t, reg, "bulwark_recursion_depth"); n != 1 || sum != 1 {
		t.Errorf("depth: %d samples, sum %v; want one of 1", n, sum)
	}
	if _, sum := histogram(t, reg, "bulwark_recursion_referrals"); sum < 4 {
		t.Errorf("referrals: sum %v, want at least test., shop.test., example., dns-host.example., cdn.example.", sum)
	}
	total := 0.0
	for _, res := range []string{resultReply, resultTimeout, resultMismatch, resultError} {
		total += counter(t, reg, "bulwark_recursion_exchanges_total", res)
	}
	if int(total) != h.Count() {
		t.Errorf("exchanges_total = %v, want %d", total, h.Count())
	}
}

// TestDOPassThrough: the client's DO bit reaches the servers (so a
// validating stub gets signatures); CD and the client's options do not.
func TestDOPassThrough(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, nil)
	m := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	m.CheckingDisabled = true
	m.SetEdns0(4096, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0011223344556677"})
	req := request("www.example.test.", dns.TypeA)
	req.Msg, req.DO = m, true
	resp, err := r.Resolve(t.Context(), req)
	if err != nil || len(resp.Answer) != 1 || resp.IsEdns0() != nil {
		t.Fatalf("resp %v, err %v; want the answer without OPT", resp, err)
	}
	for _, s := range h.Queries() {
		if !s.DO || s.CD || len(s.OPT.Option) != 0 {
			t.Errorf("query %v: DO=%v CD=%v options %v; want DO only", s, s.DO, s.CD, s.OPT.Option)
		}
	}
}

// TestConcurrentQueries shares the caches between many queries at once
// (run with -race).
func TestConcurrentQueries(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, nil)
	names := []string{"www.example.test.", "alias.example.test.", "away.example.test.", "www.shop.test.", "x.moved.example.test.", "nope.example.test."}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(names))
	for i := range 4 * len(names) {
		wg.Go(func() {
			name := names[i%len(names)]
			m, err := r.Resolve(t.Context(), request(name, dns.TypeA))
			switch {
			case err != nil:
				errs <- err
			case m.Rcode != dns.RcodeSuccess && name != "nope.example.test.":
				errs <- fmt.Errorf("%s: rcode %s", name, dns.RcodeToString[m.Rcode])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
