package recursive

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestQnameMinimisationVisible checks what each server learns: the root
// only the TLD, the TLD only the next label, the zone the full name.
func TestQnameMinimisationVisible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		qmin  bool
		qtype string // qname_minimisation_type
		want  []string
	}{
		{"on", true, "A", []string{
			"127.0.0.2 udp . NS", // priming (RFC 8109)
			"127.0.0.2 udp test. A",
			"127.0.0.3 udp example.test. A",
			"ZONE udp www.example.test. AAAA",
		}},
		{"NS type", true, "NS", []string{
			"127.0.0.2 udp . NS",
			"127.0.0.2 udp test. NS",
			"127.0.0.3 udp example.test. NS",
			"ZONE udp www.example.test. AAAA",
		}},
		{"off", false, "A", []string{
			"127.0.0.2 udp . NS",
			"127.0.0.2 udp www.example.test. AAAA",
			"127.0.0.3 udp www.example.test. AAAA",
			"ZONE udp www.example.test. AAAA",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startWorld(t)
			r, _ := newResolver(t, h, func(c *Config) { c.QnameMinimisation, c.QnameMinimisationType = tt.qmin, tt.qtype })
			patient(r)
			mustResolve(t, r, "www.example.test.", dns.TypeAAAA)
			got := seen(h)
			// Either server of example.test. may be picked.
			for i, s := range got {
				got[i] = strings.NewReplacer(ipZone1, "ZONE", ipZone2, "ZONE").Replace(s)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("servers saw\n%q\nwant\n%q", got, tt.want)
			}
			for _, s := range h.Queries() {
				if s.RD || s.CD || s.OPT == nil || s.OPT.UDPSize() != ednsSize || s.DO || len(s.OPT.Option) != 0 {
					t.Errorf("query %v: RD=%v CD=%v OPT=%v; want RD and CD clear, EDNS size %d, no DO, no options", s, s.RD, s.CD, s.OPT, ednsSize)
				}
			}
		})
	}
}

func TestQnameMinimisationRemembersNonCuts(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, nil)
	patient(r)
	mustResolve(t, r, "a.b.c.d.e.f.g.h.i.j.k.l.example.test.", dns.TypeA)
	first := h.Count()
	// RFC 9156 §2.3: 12 labels below the zone cost at most 10 queries to
	// its servers, not 12.
	zoneQueries := 0
	for _, s := range h.Queries() {
		if s.Server == ipZone1 || s.Server == ipZone2 {
			zoneQueries++
		}
	}
	if zoneQueries > maxMinimiseCount {
		t.Errorf("%d queries to the zone for a 12-label name, want at most %d:\n%q", zoneQueries, maxMinimiseCount, seen(h))
	}
	h.Reset()
	m := mustResolve(t, r, "x.c.d.e.f.g.h.i.j.k.l.example.test.", dns.TypeA)
	if m.Rcode != dns.RcodeNameError {
		t.Errorf("rcode %s, want NXDOMAIN", dns.RcodeToString[m.Rcode])
	}
	// The names down to c.d... are known not to be cuts: one query.
	if got := seen(h); len(got) != 1 {
		t.Errorf("second deep name took %d queries (first %d), want 1: %q", len(got), first, got)
	}
}

// TestQnameMinimisationRelaxed: a server answering NXDOMAIN for an empty
// non-terminal (a known bug) must not make the name unresolvable.
func TestQnameMinimisationRelaxed(t *testing.T) {
	t.Parallel()
	const ipBroken = worldServer
	h := startWorld(t, ipBroken)
	h.Server(ipTest).AddZone("test.",
		"broken.test. 86400 IN NS ns.broken.test.",
		"ns.broken.test. 86400 IN A "+ipBroken,
	)
	// Two zones on one server, and no record at b.broken.test. in the
	// parent zone: the server denies the empty non-terminal.
	broken := h.Server(ipBroken)
	broken.AddZone("broken.test.", "broken.test. 3600 IN NS ns.broken.test.")
	broken.AddZone("a.b.broken.test.", "www.a.b.broken.test. 300 IN A 192.0.2.33")
	r, reg := newResolver(t, h, nil)
	patient(r)

	m := mustResolve(t, r, "www.a.b.broken.test.", dns.TypeA)
	if got := rrs(m.Answer); m.Rcode != dns.RcodeSuccess || !slices.Equal(got, []string{"www.a.b.broken.test. 300 IN A 192.0.2.33"}) {
		t.Errorf("rcode %s answer %q; want the A record", dns.RcodeToString[m.Rcode], got)
	}
	if countAt(h, ipBroken, "b.broken.test.", dns.TypeA) != 1 || countAt(h, ipBroken, "www.a.b.broken.test.", dns.TypeA) != 1 {
		t.Errorf("want one minimised query denied, then the full name:\n%q", seen(h))
	}
	if got := counter(t, reg, "bulwark_recursion_fallbacks_total", fallbackQmin); got != 1 {
		t.Errorf("full_qname fallbacks = %v, want 1", got)
	}
}

func TestMinimised(t *testing.T) {
	tests := []struct {
		known, name string
		count       int
		want        string
	}{
		{".", "www.example.test.", 0, "test."},
		{"test.", "www.example.test.", 1, "example.test."},
		{"example.test.", "www.example.test.", 2, "www.example.test."},
		{"www.example.test.", "www.example.test.", 3, "www.example.test."},
		{".", ".", 0, "."},
		{"test.", "a.b.c.d.e.f.test.", 4, "f.test."},                     // 6 labels, 6 steps left: 1
		{"test.", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.test.", 6, "l.m.n.test."}, // 14 labels, 4 steps left: 3
		{"test.", "a.b.c.d.e.f.test.", 9, "a.b.c.d.e.f.test."},           // out of steps
		{`test.`, `a\.b.c.test.`, 0, `c.test.`},
		{`c.test.`, `a\.b.c.test.`, 1, `a\.b.c.test.`},
	}
	for _, tt := range tests {
		if got := minimised(tt.known, tt.name, tt.count); got != tt.want {
			t.Errorf("minimised(%q, %q, %d) = %q, want %q", tt.known, tt.name, tt.count, got, tt.want)
		}
	}
}
