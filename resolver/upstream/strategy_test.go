package upstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

func TestStrategyRandom(t *testing.T) {
	t.Run("weighted", func(t *testing.T) {
		a := dnstest.Start(t, dnstest.WithWildcard())
		b := dnstest.Start(t, dnstest.WithWildcard())
		f, _ := newForwarder(t, Config{Servers: []string{a.Addr, b.Addr}, Strategy: StrategyRandom, Weights: []int{3, 1}, Timeout: long, TryTimeout: long})
		const n = 200
		for i := range n {
			resolveOK(t, f, fmt.Sprintf("r%d.example.", i))
		}
		// Expected 150 for a; the bounds are over 6 standard deviations
		// away, so a failure means the weights are wrong, not bad luck.
		if a.Count()+b.Count() != n || a.Count() < 110 || a.Count() > 185 {
			t.Errorf("weights 3:1 sent %d:%d of %d queries", a.Count(), b.Count(), n)
		}
	})
	t.Run("backup", func(t *testing.T) {
		a := dnstest.Start(t, dnstest.WithWildcard())
		b := dnstest.Start(t, dnstest.WithWildcard())
		c := dnstest.Start(t, dnstest.WithWildcard())
		f, _ := newForwarder(t, Config{Servers: []string{a.Addr, b.Addr, c.Addr}, Strategy: StrategyRandom, Weights: []int{0, 1, 1}, Timeout: long, TryTimeout: long})
		for i := range 20 {
			resolveOK(t, f, fmt.Sprintf("r%d.example.", i))
		}
		if a.Count() != 0 || b.Count() == 0 || c.Count() == 0 {
			t.Fatalf("backup asked %d times, others %d and %d; want 0 while they answer", a.Count(), b.Count(), c.Count())
		}
		b.SetMode(dnstest.Refused)
		c.SetMode(dnstest.Refused)
		resolveOK(t, f, "fallback.example.")
		if a.Count() != 1 {
			t.Errorf("backup asked %d times after the others refused, want 1", a.Count())
		}
	})
}

func TestWeightedShuffle(t *testing.T) {
	srv := func(n int) []*server {
		out := make([]*server, n)
		for i := range out {
			out[i] = &server{name: fmt.Sprint(i)}
		}
		return out
	}
	// Backups (weight 0) come last, in config order, every time.
	for range 100 {
		s := srv(5)
		ws := []int{0, 5, 0, 1, 0}
		weightedShuffle(s, ws)
		if tail := s[2].name + s[3].name + s[4].name; tail != "024" || ws[2]+ws[3]+ws[4] != 0 {
			t.Fatalf("order %v %v: backups not last in config order", s, ws)
		}
	}
	// The first pick follows the weights.
	first := map[string]int{}
	for range 4000 {
		s := srv(3)
		weightedShuffle(s, []int{1, 2, 1})
		first[s[0].name]++
	}
	if first["1"] < 1700 || first["1"] > 2300 || first["0"] < 700 || first["2"] < 700 {
		t.Errorf("first picks %v for weights 1:2:1 over 4000 draws", first)
	}
}

func TestStrategyFastest(t *testing.T) {
	slow := dnstest.Start(t, dnstest.WithWildcard())
	fast := dnstest.Start(t, dnstest.WithWildcard())
	slow.SetDelay(150 * time.Millisecond)
	// Listed first: failover would always ask it.
	f, reg := newForwarder(t, Config{Servers: []string{slow.Addr, fast.Addr}, Strategy: StrategyFastest, Timeout: long, TryTimeout: long})
	const n = 40
	for i := range n {
		resolveOK(t, f, fmt.Sprintf("f%d.example.", i))
	}
	// One query to measure it, then only exploration (1 in 20).
	if slow.Count() > 12 || fast.Count() < n-12 {
		t.Errorf("slow server asked %d times, fast %d, of %d", slow.Count(), fast.Count(), n)
	}
	sr := metric(t, reg, "bulwark_upstream_srtt_seconds", "upstream", slow.Addr)
	fr := metric(t, reg, "bulwark_upstream_srtt_seconds", "upstream", fast.Addr)
	if sr < 0.1 || fr <= 0 || fr >= sr {
		t.Errorf("srtt slow %vs, fast %vs", sr, fr)
	}
}

func TestStrategyParallel(t *testing.T) {
	t.Run("first answer wins", func(t *testing.T) {
		silent := dnstest.Start(t, dnstest.WithWildcard())
		good := dnstest.Start(t, dnstest.WithWildcard())
		silent.SetMode(dnstest.Timeout)
		// A 5s try: waiting for the silent server would show.
		f, reg := newForwarder(t, Config{Servers: []string{silent.Addr, good.Addr}, Strategy: StrategyParallel, Timeout: long, TryTimeout: 5 * time.Second})
		start := time.Now()
		resolveOK(t, f, "race.example.")
		if elapsed := time.Since(start); elapsed > 4*time.Second {
			t.Errorf("answered after %v: the race waited for the silent server", elapsed)
		}
		// The loser is cancelled, not counted against the server.
		wantMetrics(t, reg, silent.Addr, nil)
		wantMetrics(t, reg, good.Addr, map[string]float64{"success": 1})
	})
	t.Run("both fail, the rest in order", func(t *testing.T) {
		a := dnstest.Start(t, dnstest.WithWildcard())
		b := dnstest.Start(t, dnstest.WithWildcard())
		c := dnstest.Start(t, dnstest.WithWildcard())
		a.SetMode(dnstest.ServFail)
		b.SetMode(dnstest.Refused)
		f, reg := newForwarder(t, Config{Servers: []string{a.Addr, b.Addr, c.Addr}, Strategy: StrategyParallel, Timeout: long, TryTimeout: long})
		resolveOK(t, f, "third.example.")
		// One race in exploreOneIn pits a against c instead of b; then c
		// answers and b is never asked.
		if a.Count() != 1 || c.Count() != 1 || b.Count() > 1 {
			t.Errorf("queries %d %d %d, want one each (b at most one)", a.Count(), b.Count(), c.Count())
		}
		wantMetrics(t, reg, a.Addr, map[string]float64{"servfail": 1})
		if b.Count() == 1 {
			wantMetrics(t, reg, b.Addr, map[string]float64{"refused": 1})
		}
	})
	t.Run("all fail", func(t *testing.T) {
		a := dnstest.Start(t, dnstest.WithWildcard())
		b := dnstest.Start(t, dnstest.WithWildcard())
		a.SetMode(dnstest.ServFail)
		b.SetMode(dnstest.ServFail)
		f, _ := newForwarder(t, Config{Servers: []string{a.Addr, b.Addr}, Strategy: StrategyParallel, Timeout: long, TryTimeout: long})
		_, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
		if err == nil || a.Count() != 1 || b.Count() != 1 {
			t.Errorf("error %v after %d+%d queries; want an error after one each", err, a.Count(), b.Count())
		}
	})
}

func TestOrderBySRTT(t *testing.T) {
	mk := func(name string, srtt time.Duration) *server {
		s := &server{name: name}
		s.health.srtt.Store(int64(srtt))
		return s
	}
	servers := []*server{mk("b", 20*time.Millisecond), mk("new", 0), mk("a", 5*time.Millisecond), mk("c", 20*time.Millisecond)}
	bySRTT(servers)
	var got string
	for _, s := range servers {
		got += s.name + " "
	}
	if got != "new a b c " {
		t.Errorf("order %q: want unmeasured first, then by srtt, ties in config order", got)
	}
}
