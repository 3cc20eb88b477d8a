package cache

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

func TestServeStale(t *testing.T) {
	boom := errors.New("upstream timeout")
	tests := []struct {
		name     string
		first    func(context.Context, *contract.Request) (*dns.Msg, error)
		staleMax time.Duration
		at       time.Duration // after the first answer (TTL 60)
		then     func(context.Context, *contract.Request) (*dns.Msg, error)
		wantTTL  uint32 // 0: not stale
		wantErr  error
		wantCode int
	}{
		{"error after expiry: stale", answer(60), time.Hour, 61 * time.Second, failing(boom), staleTTL, nil, dns.RcodeSuccess},
		{"SERVFAIL after expiry: stale", answer(60), time.Hour, 61 * time.Second, fixed(dns.RcodeServerFailure, nil, nil), staleTTL, nil, dns.RcodeSuccess},
		{"negative answer served stale", fixed(dns.RcodeNameError, nil, []dns.RR{soa("example.", 60, 60)}), time.Hour, 61 * time.Second, failing(boom), staleTTL, nil, dns.RcodeNameError},
		{"last moment of the window", answer(60), time.Hour, 60*time.Second + time.Hour - time.Nanosecond, failing(boom), staleTTL, nil, dns.RcodeSuccess},
		{"beyond stale_max: error", answer(60), time.Hour, 60*time.Second + time.Hour, failing(boom), 0, boom, 0},
		{"beyond stale_max: SERVFAIL", answer(60), time.Hour, 60*time.Second + time.Hour, fixed(dns.RcodeServerFailure, nil, nil), 0, nil, dns.RcodeServerFailure},
		{"stale_max 0: error", answer(60), 0, 61 * time.Second, failing(boom), 0, boom, 0},
		{"upstream back: fresh", answer(60), time.Hour, 61 * time.Second, answer(60), 60, nil, dns.RcodeSuccess},
		{"SERVFAIL is never stale", fixed(dns.RcodeServerFailure, nil, nil), time.Hour, 6 * time.Second, failing(boom), 0, boom, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.StaleMax = tt.staleMax
			next := &fakeNext{reply: tt.first}
			c, clk := newTest(t, cfg, next, nil)
			q := query("a.example.", dns.TypeA, false, false)
			resolve(t, c, q)
			clk.Advance(tt.at)
			next.set(tt.then)
			m, err := c.Resolve(context.Background(), q)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if m.Rcode != tt.wantCode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.wantCode])
			}
			if tt.wantTTL != 0 {
				for _, ttl := range ttls(m) {
					if ttl != tt.wantTTL {
						t.Fatalf("TTLs %v, want all %d", ttls(m), tt.wantTTL)
					}
				}
			}
		})
	}
}

func TestStaleFailureRecheck(t *testing.T) {
	// RFC 8767 §4: after a failed refresh, answer stale for a while without
	// asking the failing upstream on every query.
	m := newTestMetrics()
	next := &fakeNext{reply: answer(60)}
	c, clk := newTest(t, testConfig(), next, m.Metrics)
	q := query("a.example.", dns.TypeA, false, false)
	resolve(t, c, q)
	clk.Advance(61 * time.Second)
	next.set(failing(errors.New("down")))
	steps := []struct {
		advance time.Duration
		calls   int
	}{
		{0, 2},                        // tries, fails, stale
		{staleRetry - time.Second, 2}, // within the recheck timer: stale, no call
		{time.Second, 3},              // timer passed: tries again
		{0, 3},                        // and waits again
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if got := ttls(resolve(t, c, q)); !slices.Equal(got, []uint32{staleTTL}) {
			t.Fatalf("step %d: TTLs %v, want stale", i, got)
		}
		if next.n() != s.calls {
			t.Fatalf("step %d: next called %d times, want %d", i, next.n(), s.calls)
		}
	}
	m.expect(t, map[string]float64{"stale_served": 4, "hits": 0})

	next.set(answer(60))
	clk.Advance(staleRetry)
	if got := ttls(resolve(t, c, q)); !slices.Equal(got, []uint32{60}) {
		t.Fatalf("TTLs %v after recovery, want fresh [60]", got)
	}
}

func TestStaleKeptUntilWindowEnds(t *testing.T) {
	cfg := testConfig()
	cfg.StaleMax = time.Hour
	next := &fakeNext{reply: answer(60)}
	c, clk := newTest(t, cfg, next, nil)
	resolve(t, c, query("a.example.", dns.TypeA, false, false))
	clk.Advance(30 * time.Minute)
	if c.Len() != 1 {
		t.Fatalf("Len %d, want the expired entry kept", c.Len())
	}
	next.set(failing(errors.New("down")))
	clk.Advance(31 * time.Minute)
	c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false))
	if c.Len() != 0 {
		t.Fatalf("Len %d, want the entry dropped past stale_max", c.Len())
	}
}
