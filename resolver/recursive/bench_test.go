package recursive

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkResolve measures one recursive resolution with the delegations
// cached (one query to the zone's server, as for most cache misses in
// production), and a CNAME chain across two zones, against the baseline
// of one plain dns.Client exchange with that server.
func BenchmarkResolve(b *testing.B) {
	h := startWorld(b)
	cfg := DefaultConfig()
	cfg.RootHints, cfg.Port, cfg.QueryLoopback = []string{ipRoot}, h.Port, true
	r, err := New(cfg, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"www.example.test.", "away.example.test."} {
		if _, err := r.Resolve(ctx, request(name, dns.TypeA)); err != nil { // warm the delegations
			b.Fatal(err)
		}
	}
	for _, bb := range []struct{ label, name string }{
		{"recursive/one-query", "www.example.test."},
		{"recursive/cname-across-zones", "away.example.test."},
	} {
		b.Run(bb.label, func(b *testing.B) {
			req := request(bb.name, dns.TypeA)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Resolve(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline=dns.Client", func(b *testing.B) {
		c := &dns.Client{Timeout: 5 * time.Second}
		q := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
		q.SetEdns0(ednsSize, false)
		addr := fmt.Sprintf("%s:%d", ipZone1, h.Port)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Exchange(q, addr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
