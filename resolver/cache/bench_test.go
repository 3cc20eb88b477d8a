package cache

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/clock"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// benchNames is how many distinct questions the warm cache holds; enough to
// spread over shards the way real traffic does.
const benchNames = 1024

func benchRequests() []*contract.Request {
	reqs := make([]*contract.Request, benchNames)
	for i := range reqs {
		reqs[i] = query(fmt.Sprintf("host%d.example.com.", i), dns.TypeA, false, false)
	}
	return reqs
}

// BenchmarkCacheHit measures a warm hit (the default config, real clock)
// next to a baseline in the same run: a plain map lookup plus dns.Msg.Copy,
// the naive way to hand out a private copy of a stored answer.
func BenchmarkCacheHit(b *testing.B) {
	reqs := benchRequests()
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		return reply(req, dns.RcodeSuccess, []dns.RR{
			a(req.Question.Name, 3600, "192.0.2.1"), a(req.Question.Name, 3600, "192.0.2.2"),
		}, nil), nil
	}}
	cfg := DefaultConfig()
	c := New(cfg, next, clock.Real{}, NewMetrics(nil), slog.New(slog.DiscardHandler))
	defer c.Close()
	plain := make(map[string]*dns.Msg, len(reqs))
	for _, r := range reqs {
		m, err := c.Resolve(context.Background(), r)
		if err != nil {
			b.Fatal(err)
		}
		plain[r.Question.Name] = m
	}

	run := func(b *testing.B, f func(r *contract.Request, buf []byte) []byte) {
		b.ReportAllocs()
		var seq atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)) * 7919 // each goroutine its own walk
			buf := make([]byte, 0, 512)
			for pb.Next() {
				buf = f(reqs[i%benchNames], buf[:0])
				i++
			}
		})
	}
	b.Run("Resolve", func(b *testing.B) {
		run(b, func(r *contract.Request, buf []byte) []byte {
			m, err := c.Resolve(context.Background(), r)
			if err != nil || len(m.Answer) != 2 {
				b.Fatal("not a hit", err)
			}
			return buf
		})
	})
	b.Run("AppendWire", func(b *testing.B) {
		run(b, func(r *contract.Request, buf []byte) []byte {
			buf, ok := c.AppendWire(buf, r, serveAll{})
			if !ok {
				b.Fatal("not a hit")
			}
			return buf
		})
	})
	b.Run("Resolve+Pack", func(b *testing.B) {
		run(b, func(r *contract.Request, buf []byte) []byte {
			m, _ := c.Resolve(context.Background(), r)
			buf, _ = m.PackBuffer(buf[:cap(buf)])
			return buf
		})
	})
	b.Run("baseline/map+Copy", func(b *testing.B) {
		run(b, func(r *contract.Request, buf []byte) []byte {
			if m := plain[r.Question.Name].Copy(); len(m.Answer) != 2 {
				b.Fatal("bad baseline")
			}
			return buf
		})
	})
	if next.n() != benchNames {
		b.Fatalf("next called %d times, want %d: a benchmark iteration missed", next.n(), benchNames)
	}
}
