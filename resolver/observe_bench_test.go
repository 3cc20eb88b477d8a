package resolver_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/dnstaptest"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/dnstap"
	"github.com/bulwark-dns/bulwark/resolver/logs"
)

// packetServer is the request path of a real deployment without sockets:
// guard, policy (one block rule), cache, and a fake upstream answering one
// A record, so that after the first query every answer is a cache hit —
// the hot path the observers are added to.
func packetServer(t testing.TB) *resolver.Server {
	return benchServerOver(t, false, answerA, 1000)
}

func packetQuery(t testing.TB) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	m.SetEdns0(1232, false)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkServePacketObservers measures one UDP packet through the whole path with
// observing off, with the query log (to a writer that discards, every query
// sampled), and with dnstap to a collector on a unix socket, in one run.
func BenchmarkServePacketObservers(b *testing.B) {
	pkt := packetQuery(b)
	client := netip.MustParseAddrPort("10.1.2.3:5353")
	run := func(b *testing.B, srv *resolver.Server) {
		ctx := context.Background()
		if srv.ServePacket(ctx, pkt, client) == nil {
			b.Fatal("no answer")
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			srv.ServePacket(ctx, pkt, client)
		}
	}
	b.Run("observers=off", func(b *testing.B) {
		run(b, packetServer(b))
	})
	b.Run("querylog=discard", func(b *testing.B) {
		srv := packetServer(b)
		lm := logs.NewMetrics(nil)
		ql := logs.NewQueryLog(nullWriter{}, 1, lm, nil)
		srv.SetObserver(ql)
		run(b, srv)
		b.StopTimer()
		ql.Close()
	})
	b.Run("dnstap=unix", func(b *testing.B) {
		srv := packetServer(b)
		col := dnstaptest.New(b, "unix").Start()
		go func() { // the collector keeps reading; the frames are not needed
			for range col.Frames {
			}
		}()
		reg := prometheus.NewRegistry()
		tap, err := dnstap.New(dnstap.Config{Socket: col.Socket()}, "bench", dnstap.NewMetrics(reg), nil)
		if err != nil {
			b.Fatal(err)
		}
		srv.SetObserver(tap)
		run(b, srv)
		b.StopTimer()
		tap.Close()
		// Past what one core can encode and the collector can read, frames
		// are dropped rather than slowing answers: report how many.
		dropped := metricValue(b, reg, "bulwark_dnstap_dropped_total")
		sent := metricValue(b, reg, "bulwark_dnstap_sent_total")
		b.ReportMetric(dropped/(dropped+sent), "dropped-frac")
	})
}
