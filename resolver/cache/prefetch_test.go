package cache

import (
	"context"
	"slices"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// drain waits for background prefetches started so far.
func (c *Cache) drain() { c.wg.Wait() }

func prefetchConfig() Config {
	cfg := testConfig()
	on := true
	cfg.Prefetch = &on
	return cfg
}

func TestPrefetchRefreshesPopularEntryOnce(t *testing.T) {
	m := newTestMetrics()
	next := &fakeNext{reply: answer(100)}
	c, clk := newTest(t, prefetchConfig(), next, m.Metrics)
	q := func() *dns.Msg { return resolve(t, c, query("hot.example.", dns.TypeA, false, false)) }
	q()
	for range prefetchHits {
		q() // popular, but far from expiry: no prefetch
	}
	c.drain()
	if next.n() != 1 {
		t.Fatalf("next called %d times before the prefetch window, want 1", next.n())
	}

	// In the last tenth of its life, with the upstream slow to answer.
	release := make(chan struct{})
	next.set(func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
		<-release
		return answer(100)(ctx, req)
	})
	clk.Advance(95 * time.Second)
	for range 10 {
		if got := ttls(q()); !slices.Equal(got, []uint32{5}) {
			t.Fatalf("TTLs %v while prefetching, want the old entry's [5]", got)
		}
	}
	close(release)
	c.drain()
	if next.n() != 2 {
		t.Fatalf("next called %d times, want 2 (exactly one prefetch)", next.n())
	}
	if got := ttls(q()); !slices.Equal(got, []uint32{100}) {
		t.Fatalf("TTLs %v after prefetch, want the fresh [100]", got)
	}
	m.expect(t, map[string]float64{"prefetches": 1, "misses": 1})
}

func TestPrefetchNotTriggered(t *testing.T) {
	tests := []struct {
		name     string
		prefetch bool
		hits     int
		at       time.Duration
	}{
		{"prefetch off", false, 10, 95 * time.Second},
		{"not popular", true, prefetchHits - 2, 95 * time.Second},
		{"not near expiry", true, 10, 89 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Prefetch = &tt.prefetch
			next := &fakeNext{reply: answer(100)}
			c, clk := newTest(t, cfg, next, nil)
			resolve(t, c, query("a.example.", dns.TypeA, false, false))
			for range tt.hits {
				resolve(t, c, query("a.example.", dns.TypeA, false, false))
			}
			clk.Advance(tt.at)
			resolve(t, c, query("a.example.", dns.TypeA, false, false))
			c.drain()
			if next.n() != 1 {
				t.Fatalf("next called %d times, want 1 (no prefetch)", next.n())
			}
		})
	}
}

func TestPrefetchKeepsKeyFlags(t *testing.T) {
	var got []*contract.Request
	next := &fakeNext{}
	next.set(func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
		got = append(got, req) // calls are sequential here
		return answer(100)(ctx, req)
	})
	c, clk := newTest(t, prefetchConfig(), next, nil)
	for range prefetchHits + 1 {
		resolve(t, c, query("Hot.example.", dns.TypeA, true, true))
	}
	clk.Advance(95 * time.Second)
	resolve(t, c, query("Hot.example.", dns.TypeA, true, true))
	c.drain()
	if len(got) != 2 {
		t.Fatalf("next called %d times, want 2", len(got))
	}
	p := got[1]
	if !p.DO || !p.Msg.CheckingDisabled || p.Question != got[0].Question || p.Client.IsValid() {
		t.Fatalf("prefetch request DO=%v CD=%v question %v client %v; want the key's DO, CD, question and no client",
			p.DO, p.Msg.CheckingDisabled, p.Question, p.Client)
	}
	if got := ttls(resolve(t, c, query("hot.example.", dns.TypeA, true, true))); !slices.Equal(got, []uint32{100}) {
		t.Fatalf("TTLs %v, want the refreshed [100] under the same key", got)
	}
}

func TestCloseStopsPrefetch(t *testing.T) {
	started := make(chan struct{}, 2)
	next := &fakeNext{reply: answer(100)}
	c, clk := newTest(t, prefetchConfig(), next, nil)
	for range prefetchHits + 1 {
		resolve(t, c, query("a.example.", dns.TypeA, false, false))
		resolve(t, c, query("b.example.", dns.TypeA, false, false))
	}
	next.set(func(ctx context.Context, _ *contract.Request) (*dns.Msg, error) {
		started <- struct{}{}
		<-ctx.Done() // an upstream that never answers
		return nil, ctx.Err()
	})
	clk.Advance(95 * time.Second)
	resolve(t, c, query("a.example.", dns.TypeA, false, false))
	<-started
	c.Close() // cancels the prefetch of a and waits for it
	resolve(t, c, query("b.example.", dns.TypeA, false, false))
	c.drain()
	if next.n() != 3 {
		t.Fatalf("next called %d times, want 3 (no prefetch after Close)", next.n())
	}
}
