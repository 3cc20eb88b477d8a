package recursive

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// BenchmarkResolve measures one recursive resolution with the delegations
// cached (one query to the zone's server, as for most cache misses in
// production), and a CNAME chain across two zones, against the baseline
// of one plain dns.Client exchange with that server; and a new name each
// time below a cached cut whose server is a wire-level wildcard
// (dnstest.StartWildcardLeaf), as bench/recursive's cold misses are, so
// that B/op is the resolver's alone.
func BenchmarkResolve(b *testing.B) {
	const ipLeaf = worldServer
	h := startWorld(b)
	h.Server(ipTest).AddZone("test.",
		"wild.test. 86400 IN NS ns.wild.test.",
		"ns.wild.test. 86400 IN A "+ipLeaf,
	)
	dnstest.StartWildcardLeaf(b, net.JoinHostPort(ipLeaf, strconv.Itoa(h.Port)))
	cfg := DefaultConfig()
	cfg.RootHints, cfg.Port, cfg.QueryLoopback = []string{ipRoot}, h.Port, true
	r, err := New(cfg, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"www.example.test.", "away.example.test.", "first.wild.test."} {
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
	b.Run("recursive/cold-below-cut", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n++
			if _, err := r.Resolve(ctx, request("m"+strconv.Itoa(n)+".wild.test.", dns.TypeA)); err != nil {
				b.Fatal(err)
			}
		}
	})
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
