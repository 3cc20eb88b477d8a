package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// breakerSetup is a failover pair (bad first) with a breaker opening after
// two failures and a 10s cool-down on a fake clock.
func breakerSetup(t *testing.T) (bad, good *dnstest.Server, f *Forwarder, reg *prometheus.Registry, clk *clock.Fake) {
	bad = dnstest.Start(t, dnstest.WithWildcard())
	good = dnstest.Start(t, dnstest.WithWildcard())
	clk = clock.NewFake(time.Unix(1_700_000_000, 0))
	f, reg = newForwarder(t, Config{
		Servers: []string{bad.Addr, good.Addr}, Timeout: long, TryTimeout: medium,
		Health: HealthConfig{Failures: 2, Cooldown: 10 * time.Second},
	}, WithClock(clk))
	return bad, good, f, reg, clk
}

func resolveOK(t *testing.T, f *Forwarder, name string) {
	t.Helper()
	if m, err := f.Resolve(context.Background(), request(name, dns.TypeA, true, false, false)); err != nil || answerA(m) != dnstest.WildcardA {
		t.Fatalf("%s: %v, %v", name, m, err)
	}
}

// asked counts the queries s saw for name.
func asked(s *dnstest.Server, name string) int {
	n := 0
	for _, q := range s.Queries() {
		if q.Name == name {
			n++
		}
	}
	return n
}

func TestCircuitBreaker(t *testing.T) {
	bad, _, f, reg, clk := breakerSetup(t)
	healthy := func() float64 { return metric(t, reg, "bulwark_upstream_healthy", "upstream", bad.Addr) }
	probes := func(result string) float64 {
		return metric(t, reg, "bulwark_upstream_probes_total", "upstream", bad.Addr, "result", result)
	}
	bad.SetMode(dnstest.Timeout)
	resolveOK(t, f, "a.example.")
	if healthy() != 1 {
		t.Fatal("down after one failure; want two")
	}
	resolveOK(t, f, "b.example.")
	if healthy() != 0 {
		t.Fatal("still up after two consecutive timeouts")
	}
	srtt := metric(t, reg, "bulwark_upstream_srtt_seconds", "upstream", bad.Addr)
	if srtt < medium.Seconds()/2 {
		t.Errorf("srtt %vs after timeouts, want them counted as the %v try timeout", srtt, medium)
	}

	bad.SetMode(dnstest.Answer) // it recovers, but nobody knows yet
	resolveOK(t, f, "c.example.")
	clk.Advance(9 * time.Second)
	resolveOK(t, f, "d.example.")
	if bad.Count() != 2 || probes("success")+probes("failure") != 0 {
		t.Fatalf("down server got %d queries and %v probes during the cool-down; want only the first 2", bad.Count(), probes("success"))
	}

	clk.Advance(2 * time.Second)
	resolveOK(t, f, "e.example.") // answered by the good server; starts the probe
	wait.For(t, "the probe", func() bool { return probes("success") == 1 })
	if healthy() != 1 || asked(bad, ".") != 1 || asked(bad, "e.example.") != 0 {
		t.Errorf("healthy %v, probe queries %d, client query sent to it %d; want up after 1 probe, no client query risked",
			healthy(), asked(bad, "."), asked(bad, "e.example."))
	}
	resolveOK(t, f, "f.example.")
	if asked(bad, "f.example.") != 1 {
		t.Error("the recovered server is not asked first again")
	}
	// Probes are not client requests.
	wantMetrics(t, reg, bad.Addr, map[string]float64{"timeout": 2, "success": 1})
}

func TestCircuitBreakerProbeFails(t *testing.T) {
	bad, _, f, reg, clk := breakerSetup(t)
	probes := func(result string) float64 {
		return metric(t, reg, "bulwark_upstream_probes_total", "upstream", bad.Addr, "result", result)
	}
	bad.SetMode(dnstest.Timeout)
	resolveOK(t, f, "a.example.")
	resolveOK(t, f, "b.example.")

	clk.Advance(11 * time.Second)
	resolveOK(t, f, "c.example.")
	wait.For(t, "the failed probe", func() bool { return probes("failure") == 1 })
	// A failed probe restarts the cool-down: no probe, no query until it
	// is over.
	clk.Advance(5 * time.Second)
	resolveOK(t, f, "d.example.")
	if got := bad.Count(); got != 3 {
		t.Errorf("%d queries to the dead server, want 2 + 1 probe", got)
	}
	clk.Advance(6 * time.Second)
	resolveOK(t, f, "e.example.")
	wait.For(t, "the second probe", func() bool { return probes("failure") == 2 })
	if metric(t, reg, "bulwark_upstream_healthy", "upstream", bad.Addr) != 0 {
		t.Error("up after failed probes")
	}
}

// TestAllDownStillTried: when every server is down the breaker is ignored
// (a total outage is tried, not refused), and an answer closes it at once.
func TestAllDownStillTried(t *testing.T) {
	a := dnstest.Start(t, dnstest.WithWildcard())
	b := dnstest.Start(t, dnstest.WithWildcard())
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	f, reg := newForwarder(t, Config{Servers: []string{a.Addr, b.Addr}, Timeout: 2 * medium, TryTimeout: medium,
		Health: HealthConfig{Failures: 1, Cooldown: time.Hour}}, WithClock(clk))
	a.SetMode(dnstest.Timeout)
	b.SetMode(dnstest.Timeout)
	if _, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false)); err == nil {
		t.Fatal("answer from two silent servers")
	}
	for _, s := range []*dnstest.Server{a, b} {
		if metric(t, reg, "bulwark_upstream_healthy", "upstream", s.Addr) != 0 {
			t.Fatalf("%s not down", s.Addr)
		}
	}
	b.SetMode(dnstest.Answer)
	a.Reset()
	resolveOK(t, f, "y.example.")
	if a.Count() == 0 {
		t.Error("the first server was skipped although every server is down")
	}
	if metric(t, reg, "bulwark_upstream_healthy", "upstream", b.Addr) != 1 {
		t.Error("an answer did not bring the server back")
	}
}

// TestAnswersKeepBreakerClosed: error rcodes are answers, often about the
// name asked; they never take a server out.
func TestAnswersKeepBreakerClosed(t *testing.T) {
	for _, mode := range []dnstest.Mode{dnstest.ServFail, dnstest.Refused} {
		s := dnstest.Start(t, dnstest.WithWildcard())
		s.SetMode(mode)
		f, reg := newForwarder(t, Config{Servers: []string{s.Addr}, Timeout: long, TryTimeout: medium, Health: HealthConfig{Failures: 1}})
		for range 3 {
			f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
		}
		if s.Count() != 3 || metric(t, reg, "bulwark_upstream_healthy", "upstream", s.Addr) != 1 {
			t.Errorf("mode %d: %d queries, healthy %v; want every query asked, server up", mode, s.Count(),
				metric(t, reg, "bulwark_upstream_healthy", "upstream", s.Addr))
		}
	}
}

func TestHealthSRTT(t *testing.T) {
	var h health
	if got := h.sample(80 * time.Millisecond); got != 80*time.Millisecond {
		t.Errorf("first sample: %v", got)
	}
	if got := h.sample(0); got != 70*time.Millisecond {
		t.Errorf("after a fast sample: %v, want 7/8 of 80ms", got)
	}
	for range 200 {
		h.sample(time.Millisecond)
	}
	if got := time.Duration(h.srtt.Load()); got < time.Millisecond || got > 2*time.Millisecond {
		t.Errorf("converged to %v, want about 1ms", got)
	}
}
