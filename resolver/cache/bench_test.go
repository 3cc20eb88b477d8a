package cache

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/cputime"
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

// BenchmarkCacheMiss measures a miss that is stored: the next step's answer
// packed into the wire form, checked and answered, next to a baseline in
// the same run (the next step's answer alone, as a cache-less path gets
// it). Every iteration asks a name never asked before.
func BenchmarkCacheMiss(b *testing.B) {
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		return reply(req, dns.RcodeSuccess, []dns.RR{
			&dns.CNAME{Hdr: dns.RR_Header{Name: req.Question.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "cdn.example.net."},
			a("cdn.example.net.", 60, "192.0.2.1"), a("cdn.example.net.", 60, "192.0.2.2"),
		}, nil), nil
	}}
	reqs := make([]*contract.Request, 1<<16)
	for i := range reqs {
		reqs[i] = query(fmt.Sprintf("miss%d.example.com.", i), dns.TypeA, false, false)
	}
	// misses asks every question of reqs once, of caches over next.
	misses := func(next contract.Resolver) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			cfg := DefaultConfig()
			cfg.Size = len(reqs) * 2
			var c *Cache
			sch0 := cputime.Schedules()
			defer func() { b.ReportMetric((cputime.Schedules()-sch0)/float64(b.N), "scheds/op") }()
			for i := 0; b.Loop(); i++ {
				if i%len(reqs) == 0 { // a fresh cache: every question a miss
					b.StopTimer()
					c = New(cfg, next, clock.Real{}, nil, slog.New(slog.DiscardHandler))
					b.Cleanup(c.Close)
					b.StartTimer()
				}
				if m, err := c.Resolve(context.Background(), reqs[i%len(reqs)]); err != nil || len(m.Answer) != 3 {
					b.Fatal("miss not answered", err)
				}
			}
		}
	}
	b.Run("Resolve", misses(next))
	// Relayed: the same answers from a next step answering in wire form
	// (the forwarder), stored as received and decoded once.
	wires := make(map[string][]byte, len(reqs))
	for _, req := range reqs {
		m, _ := next.Resolve(context.Background(), req)
		w, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		wires[req.Question.Name] = w
	}
	b.Run("Relayed", misses(&wireNext{wire: func(req *contract.Request) []byte { return wires[req.Question.Name] }}))
	b.Run("baseline/next", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if m, _ := next.Resolve(context.Background(), reqs[i%len(reqs)]); len(m.Answer) != 3 {
				b.Fatal("bad baseline")
			}
		}
	})
}
