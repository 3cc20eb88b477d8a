package upstream

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// The BenchmarkForward* family measures one forwarded query per transport
// against a dnstest server in the same process (its allocations count
// too). BenchmarkForward (forwarder_test.go) is plain UDP.

func benchResolve(b *testing.B, cfg Config) {
	cfg.Timeout, cfg.TryTimeout = long, long
	f, _ := newForwarder(b, cfg)
	req := request("bench.example.", dns.TypeA, true, false, false)
	ctx := context.Background()
	if _, err := f.Resolve(ctx, req); err != nil { // connect outside the loop
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Resolve(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkForwardTCP(b *testing.B) {
	s := dnstest.Start(b, dnstest.WithWildcard())
	benchResolve(b, Config{Servers: []string{"tcp://" + s.Addr}})
}

func BenchmarkForwardTLS(b *testing.B) {
	p := newPKI(b)
	s := p.encrypted(b, "dot.test")
	b.Run("forwarder", func(b *testing.B) {
		benchResolve(b, Config{Servers: []string{dotURL("dot.test", s)}, CAFile: p.file})
	})
	b.Run("parallel-clients", func(b *testing.B) {
		f, _ := newForwarder(b, Config{Servers: []string{dotURL("dot.test", s)}, CAFile: p.file, Timeout: long, TryTimeout: long})
		req := request("bench.example.", dns.TypeA, true, false, false)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := f.Resolve(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("baseline=dns.Conn", func(b *testing.B) {
		c := &dns.Client{Net: "tcp-tls", Timeout: long, TLSConfig: &tls.Config{RootCAs: p.ca.Pool(), ServerName: "dot.test"}}
		conn, err := c.Dial(s.TLSAddr)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		q := new(dns.Msg).SetQuestion("bench.example.", dns.TypeA)
		q.SetEdns0(ednsSize, false)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.ExchangeWithConn(q, conn); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkForwardHTTPS(b *testing.B) {
	p := newPKI(b)
	s := p.encrypted(b, "doh.test")
	for _, method := range []string{MethodPOST, MethodGET} {
		b.Run(method, func(b *testing.B) {
			benchResolve(b, Config{Servers: []string{dohURL("doh.test", s)}, CAFile: p.file, DoHMethod: method})
		})
	}
}

// BenchmarkForwardParallel is the parallel strategy's race over UDP: two
// queries, two goroutines, per client query.
func BenchmarkForwardParallel(b *testing.B) {
	x := dnstest.Start(b, dnstest.WithWildcard())
	y := dnstest.Start(b, dnstest.WithWildcard())
	benchResolve(b, Config{Servers: []string{x.Addr, y.Addr}, Strategy: StrategyParallel})
}
