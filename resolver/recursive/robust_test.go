package recursive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// TestLameServersSkipped: a zone whose NS set holds a server that does not
// serve it (REFUSED), one that never answers and one that fails (SERVFAIL)
// still resolves through its one good server; the lame one is remembered
// and not asked again until lame_ttl has passed.
func TestLameServersSkipped(t *testing.T) {
	t.Parallel()
	const ipLame, ipDead, ipFail, ipGood = "127.0.0.20", "127.0.0.21", "127.0.0.22", "127.0.0.23"
	h := startWorld(t, ipLame, ipDead, ipFail, ipGood)
	h.Server(ipTest).AddZone("test.",
		"flaky.test. 86400 IN NS lame.flaky.test.",
		"flaky.test. 86400 IN NS dead.flaky.test.",
		"flaky.test. 86400 IN NS fail.flaky.test.",
		"flaky.test. 86400 IN NS good.flaky.test.",
		"lame.flaky.test. 86400 IN A "+ipLame,
		"dead.flaky.test. 86400 IN A "+ipDead,
		"fail.flaky.test. 86400 IN A "+ipFail,
		"good.flaky.test. 86400 IN A "+ipGood,
	)
	flaky := []string{"www.flaky.test. 300 IN A 192.0.2.44", "mail.flaky.test. 300 IN A 192.0.2.45", "ftp.flaky.test. 300 IN A 192.0.2.46"}
	for _, ip := range []string{ipDead, ipFail, ipGood} {
		h.Server(ip).AddZone("flaky.test.", flaky...)
	}
	h.Server(ipLame).AddZone("other.test.") // serves something else: REFUSED
	h.Server(ipDead).SetMode(dnstest.Timeout)
	h.Server(ipFail).SetMode(dnstest.ServFail)

	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, reg := newResolverClock(t, h, clk, func(c *Config) { c.QnameMinimisation = false })
	patient(r)
	m := mustResolve(t, r, "www.flaky.test.", dns.TypeA)
	if got := rrs(m.Answer); !slices.Equal(got, flaky[:1]) {
		t.Fatalf("answer %q; servers saw %q", got, seen(h))
	}
	// Servers never heard from are tried first, so the lame one is met
	// by the next query at the latest.
	for i := 0; h.Server(ipLame).Count() == 0 && i < 10; i++ {
		mustResolve(t, r, fmt.Sprintf("n%d.flaky.test.", i), dns.TypeA)
	}
	lameCount := h.Server(ipLame).Count()
	if lameCount != 1 {
		t.Fatalf("lame server asked %d times, want once:\n%q", lameCount, seen(h))
	}

	// The lame server is not asked again while remembered.
	m = mustResolve(t, r, "mail.flaky.test.", dns.TypeA)
	if got := rrs(m.Answer); !slices.Equal(got, flaky[1:2]) {
		t.Errorf("answer %q", got)
	}
	if n := h.Server(ipLame).Count(); n != lameCount {
		t.Errorf("lame server asked %d more times while remembered as lame", n-lameCount)
	}
	if counter(t, reg, "bulwark_recursion_lame_servers_total", "") < 1 {
		t.Error("no lame server counted")
	}

	// After lame_ttl it is a candidate again: with the good server gone,
	// it is asked.
	clk.Advance(DefaultLameTTL + time.Second)
	h.Server(ipGood).SetMode(dnstest.Refused)
	h.Server(ipDead).SetMode(dnstest.Refused)
	if _, err := resolve(t, r, "ftp.flaky.test.", dns.TypeA); !errors.Is(err, ErrNoServer) {
		t.Errorf("err %v, want ErrNoServer with every server failing", err)
	}
	if n := h.Server(ipLame).Count(); n != lameCount+1 {
		t.Errorf("lame server asked %d times after lame_ttl, want once", n-lameCount)
	}
}

// TestReferralLoops: servers that refer sideways (to the zone they were
// asked as), upwards (to the root), or a pair of glue-less delegations each
// needing the other, end in SERVFAIL after a handful of queries.
func TestReferralLoops(t *testing.T) {
	t.Parallel()
	const ipSelf, ipUp = "127.0.0.20", "127.0.0.21"
	h := startWorld(t, ipSelf, ipUp)
	h.Server(ipTest).AddZone("test.",
		"self.test. 86400 IN NS ns.self.test.",
		"ns.self.test. 86400 IN A "+ipSelf,
		"up.test. 86400 IN NS ns.up.test.",
		"ns.up.test. 86400 IN A "+ipUp,
		"ping.test. 86400 IN NS ns.pong.test.",
		"pong.test. 86400 IN NS ns.ping.test.",
	)
	// ns.self.test. serves a copy of test. delegating self.test. to itself.
	h.Server(ipSelf).AddZone("test.",
		"self.test. 86400 IN NS ns.self.test.",
		"ns.self.test. 86400 IN A "+ipSelf,
	)
	// ns.up.test. serves a copy of the root: it refers up to test.
	h.Server(ipUp).AddZone(".",
		"test. 86400 IN NS ns1.nic.test.",
		"ns1.nic.test. 86400 IN A "+ipTest,
	)
	for _, qmin := range []bool{true, false} {
		r, reg := newResolver(t, h, func(c *Config) { c.QnameMinimisation = qmin })
		for _, tt := range []struct {
			name string
			want error
		}{
			{"www.self.test.", ErrNoServer},
			{"www.up.test.", ErrNoServer},
			{"www.ping.test.", ErrLoop},
		} {
			t.Run(fmt.Sprintf("%s qmin=%v", tt.name, qmin), func(t *testing.T) {
				h.Reset()
				_, err := resolve(t, r, tt.name, dns.TypeA)
				if !errors.Is(err, tt.want) {
					t.Errorf("err %v, want %v", err, tt.want)
				}
				if n := h.Count(); n > 12 {
					t.Errorf("%d queries sent, want a handful:\n%q", n, seen(h))
				}
			})
		}
		if got := counter(t, reg, "bulwark_recursion_failures_total", failLoop); got == 0 {
			t.Errorf("failures{reason=loop} = 0")
		}
	}
}

// TestWorkBudget: a delegation to 30 glue-less name servers, none of which
// resolve, cannot make one client query send more than max_queries.
func TestWorkBudget(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	for i := range 30 {
		h.Server(ipTest).AddZone("test.", fmt.Sprintf("costly.test. 86400 IN NS ns%d.nowhere%d.example.", i, i))
	}
	const budget = 15
	r, reg := newResolver(t, h, func(c *Config) { c.MaxQueries = budget })
	_, err := resolve(t, r, "www.costly.test.", dns.TypeA)
	if !errors.Is(err, ErrBudget) {
		t.Errorf("err %v, want ErrBudget", err)
	}
	if n := h.Count(); n != budget {
		t.Errorf("servers saw %d queries, want exactly the budget %d", n, budget)
	}
	if n, sum := histogram(t, reg, "bulwark_recursion_upstream_queries"); n != 1 || sum != budget {
		t.Errorf("upstream_queries histogram: %d samples, sum %v; want 1, %d", n, sum, budget)
	}
	if got := counter(t, reg, "bulwark_recursion_failures_total", failBudget); got != 1 {
		t.Errorf("failures{reason=query_budget} = %v", got)
	}
}

// TestTimeBudget: servers that never answer cost at most the time budget,
// with timeouts backing off (each retry waits longer) within it.
func TestTimeBudget(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).SetMode(dnstest.Timeout)
	}
	r, reg := newResolver(t, h, func(c *Config) { c.Timeout = 1500 * time.Millisecond })
	start := time.Now()
	_, err := resolve(t, r, "www.example.test.", dns.TypeA)
	if !errors.Is(err, ErrTimeBudget) && !errors.Is(err, ErrNoServer) {
		t.Errorf("err %v, want the time budget or no server", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v with a 1.5s budget", d)
	}
	if got := counter(t, reg, "bulwark_recursion_server_timeouts_total", ""); got < 2 {
		t.Errorf("server timeouts = %v, want both servers counted", got)
	}
	// Backoff: the second try of a server waited longer than the first.
	now := r.clock.Now()
	for _, ip := range []string{ipZone1, ipZone2} {
		if rto := r.infra.timeout(mustAddr(ip), now); rto <= defaultRTO.initial {
			t.Errorf("%s: RTO %v after timeouts, want more than the initial %v", ip, rto, defaultRTO.initial)
		}
	}
}

// TestCNAMELimits: a CNAME loop, and a chain longer than max_chain, end in
// SERVFAIL carrying the chain so far (for the policy to check).
func TestCNAMELimits(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	var chain []string
	for i := range 20 {
		chain = append(chain, fmt.Sprintf("c%d.example.test. 300 IN CNAME c%d.example.test.", i, i+1))
	}
	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).AddZone("example.test.", chain...)
		h.Server(ip).AddZone("example.test.",
			"loop1.example.test. 300 IN CNAME loop2.example.test.",
			"loop2.example.test. 300 IN CNAME loop1.example.test.",
		)
	}
	r, reg := newResolver(t, h, nil)
	for _, tt := range []struct {
		name  string
		links int
	}{{"loop1.example.test.", 2}, {"c0.example.test.", DefaultMaxChain}} {
		m := mustResolve(t, r, tt.name, dns.TypeA)
		if m.Rcode != dns.RcodeServerFailure || len(m.Answer) < tt.links || len(m.Answer) > tt.links+8 {
			t.Errorf("%s: rcode %s, %d answer records; want SERVFAIL with the chain (%d+ links)", tt.name, dns.RcodeToString[m.Rcode], len(m.Answer), tt.links)
		}
	}
	if counter(t, reg, "bulwark_recursion_failures_total", failLoop) != 1 || counter(t, reg, "bulwark_recursion_failures_total", failChain) != 1 {
		t.Error("loop and chain failures not counted")
	}
}

// TestDepthLimit: each name server's zone delegated glue-less to another
// one nests lookups; max_depth stops it.
func TestDepthLimit(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	for i := range 8 {
		h.Server(ipTest).AddZone("test.", fmt.Sprintf("d%d.test. 86400 IN NS ns.d%d.test.", i, i+1))
	}
	r, reg := newResolver(t, h, func(c *Config) { c.MaxDepth = 3 })
	if _, err := resolve(t, r, "www.d0.test.", dns.TypeA); !errors.Is(err, ErrDepth) {
		t.Errorf("err %v, want ErrDepth", err)
	}
	if n, sum := histogram(t, reg, "bulwark_recursion_depth"); n != 1 || sum != 3 {
		t.Errorf("depth histogram %d samples, sum %v; want 1 sample of 3", n, sum)
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	h.Server(ipZone1).SetMode(dnstest.Timeout)
	h.Server(ipZone2).SetMode(dnstest.Timeout)
	r, _ := newResolver(t, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for h.Server(ipZone1).Count()+h.Server(ipZone2).Count() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err := r.Resolve(ctx, request("www.example.test.", dns.TypeA))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}
