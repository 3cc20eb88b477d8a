package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// TestConcurrent drives every path at once — hits, misses, evictions,
// coalescing, prefetch, serve-stale, AppendWire, Close — for the race
// detector, and checks each answer is for the question asked.
func TestConcurrent(t *testing.T) {
	const (
		workers = 16
		rounds  = 400
		names   = 40
	)
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		switch req.Question.Name[0] % 7 {
		case 0:
			return nil, errors.New("timeout")
		case 1:
			return reply(req, dns.RcodeServerFailure, nil, nil), nil
		case 2:
			return reply(req, dns.RcodeNameError, nil, []dns.RR{soa("example.", 5, 5)}), nil
		}
		return reply(req, dns.RcodeSuccess, []dns.RR{a(req.Question.Name, 7, "192.0.2.1")}, nil), nil
	}}
	cfg := prefetchConfig()
	cfg.Size = names / 2 // force evictions
	cfg.StaleMax = 20 * time.Second
	m := newTestMetrics()
	c, clk := newTest(t, cfg, next, m.Metrics)

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var buf []byte
			for i := range rounds {
				name := fmt.Sprintf("%c%d.Example.", 'a'+(i*w)%26, (i+w)%names)
				req := query(name, dns.TypeA, i%3 == 0, i%5 == 0)
				if w == 0 && i%10 == 0 {
					clk.Advance(time.Second)
				}
				if b, ok := c.AppendWire(buf[:0], req, serveAll{}); ok {
					buf = b
					continue
				}
				resp, err := c.Resolve(context.Background(), req)
				if err != nil {
					continue
				}
				if resp.Question[0] != req.Question || resp.Id != req.Msg.Id {
					t.Errorf("answer for %v id %d, asked %v id %d", resp.Question[0], resp.Id, req.Question, req.Msg.Id)
					return
				}
				resp.Answer = append(resp.Answer, a("x.", 1, "192.0.2.2")) // callers may modify
				for _, rr := range resp.Answer {
					rr.Header().Ttl = 0
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > cfg.Size {
		t.Fatalf("Len %d exceeds Size %d", n, cfg.Size)
	}
	m.expect(t, map[string]float64{"entries": float64(c.Len())})
	c.Close()
	m.expect(t, map[string]float64{"entries": 0})
}
