package cache

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// testMetrics is a Metrics registered with a registry of its own.
type testMetrics struct {
	*Metrics
	reg *prometheus.Registry
}

func newTestMetrics() testMetrics {
	reg := prometheus.NewRegistry()
	return testMetrics{NewMetrics(reg), reg}
}

// expect checks the named series (hits, misses, evictions, prefetches,
// stale_served, entries, bytes) as the registry exposes them; series not named are
// not checked. (prometheus/testutil would need a go.sum entry we lack.)
func (m testMetrics) expect(t *testing.T, want map[string]float64) {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			got[mf.GetName()] = s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
	}
	for name, w := range want {
		full := "bulwark_cache_" + name
		if name != "entries" && name != "bytes" {
			full += "_total"
		}
		if v, ok := got[full]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", full, v, ok, w)
		}
	}
}

func TestMetricNames(t *testing.T) {
	m := newTestMetrics()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		got = append(got, mf.GetName())
	}
	want := []string{
		"bulwark_cache_bytes", "bulwark_cache_entries", "bulwark_cache_evictions_total", "bulwark_cache_hits_total",
		"bulwark_cache_misses_total", "bulwark_cache_prefetches_total", "bulwark_cache_stale_served_total",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("series %v, want %v", got, want)
	}
}

func TestMetricsCount(t *testing.T) {
	m := newTestMetrics()
	next := &fakeNext{reply: answer(60)}
	cfg := testConfig()
	c, clk := newTest(t, cfg, next, m.Metrics)
	q := query("a.example.", dns.TypeA, false, false)
	resolve(t, c, q)                                            // miss
	resolve(t, c, q)                                            // hit
	resolve(t, c, query("b.example.", dns.TypeA, false, false)) // miss
	m.expect(t, map[string]float64{"hits": 1, "misses": 2, "entries": 2, "stale_served": 0})

	clk.Advance(61 * time.Second)
	next.set(failing(errors.New("down")))
	resolve(t, c, q) // miss, served stale
	m.expect(t, map[string]float64{"hits": 1, "misses": 3, "stale_served": 1, "entries": 2})

	c.Close()
	m.expect(t, map[string]float64{"entries": 0})
}

// A cache without metrics (nil) still caches: a miss asks the upstream,
// a hit and a wire answer do not, and an expired entry is fetched again.
func TestNilMetrics(t *testing.T) {
	next := &fakeNext{reply: answer(60)}
	c, clk := newTest(t, testConfig(), next, nil)
	for round := 1; round <= 3; round++ {
		for i := range 2 {
			if got := resolve(t, c, query("a.example.", dns.TypeA, false, false)); len(got.Answer) != 1 {
				t.Fatalf("round %d, query %d: answer %v", round, i, got.Answer)
			}
		}
		if _, ok := c.AppendWire(nil, query("a.example.", dns.TypeA, false, false), serveAll{}); !ok {
			t.Fatalf("round %d: no wire answer from a fresh entry", round)
		}
		if got := next.calls.Load(); got != int64(round) {
			t.Fatalf("round %d: %d upstream calls, want %d (one miss per round)", round, got, round)
		}
		clk.Advance(2 * time.Hour) // past the TTL and any serve-stale window
	}
}
