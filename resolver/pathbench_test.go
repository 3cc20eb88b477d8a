package resolver_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cputime"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// answerA is a constant fake upstream: one A record for any name.
var answerA = query.ResolverFunc(func(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(req.Question.Name, req.Question.Qtype)
	m.Response = true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: net.IPv4(192, 0, 2, 1)}}
	return m, nil
})

// benchServer assembles the production chain (guard, policy, cache) over a
// constant fake upstream, with a block log writing to nowhere.
func benchServer(b *testing.B, fast bool, with ...func(*blocklist.Table)) *resolver.Server {
	return benchServerOver(b, fast, answerA, 10000, with...)
}

// benchServerOver is benchServer over the given next step and cache size.
// with changes the table before it is served (RPZ triggers).
func benchServerOver(b testing.TB, fast bool, up query.Resolver, cacheSize int, with ...func(*blocklist.Table)) *resolver.Server {
	b.Helper()
	return benchServerAt(b, "127.0.0.1:0", fast, up, cacheSize, with...)
}

// benchServerAt is benchServerOver listening on addr.
func benchServerAt(b testing.TB, addr string, fast bool, up query.Resolver, cacheSize int, with ...func(*blocklist.Table)) *resolver.Server {
	b.Helper()
	tab := buildTable(b, list{info: blocklist.ListInfo{Name: "bench"}, names: []string{"evil.example"}})
	for _, f := range with {
		f(tab)
	}
	blog := logs.NewBlockLog(nullWriter{}, nil, nil)
	b.Cleanup(blog.Close)
	c := newChain(b, chainConfig{table: tab, up: up, cacheSize: cacheSize, blockLog: blog, metrics: pipeline.NewMetrics(nil)})
	return c.server(b, addr, fast)
}

func benchPacket(b *testing.B, srv *resolver.Server, name string) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	w, _ := m.Pack()
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	if srv.ServePacket(context.Background(), w, client) == nil {
		b.Fatal("no answer")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if srv.ServePacket(context.Background(), w, client) == nil {
				b.Fatal("no answer")
			}
		}
	})
}

// BenchmarkServePacketCached is one cache hit through the whole packet path
// without sockets: parse, guard, policy, cache, finish, pack.
func BenchmarkServePacketCached(b *testing.B) {
	benchPacket(b, benchServer(b, false), "www.example.org.")
}

// BenchmarkServePacketCachedFast is the same cache hit on the UDP fast path.
func BenchmarkServePacketCachedFast(b *testing.B) {
	benchPacket(b, benchServer(b, true), "www.example.org.")
}

// BenchmarkServePacketBlocked is one blocked query: parse, guard, policy
// match, block answer, block log, pack.
func BenchmarkServePacketBlocked(b *testing.B) {
	benchPacket(b, benchServer(b, false), "x.evil.example.")
}

// BenchmarkServePacketBlockedFast is the same block on the UDP fast path.
func BenchmarkServePacketBlockedFast(b *testing.B) {
	benchPacket(b, benchServer(b, true), "x.evil.example.")
}

// BenchmarkParseBaseline is the cost of miekg/dns parsing and packing one
// query alone, the floor the packet path is measured against.
func BenchmarkParseBaseline(b *testing.B) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	w, _ := m.Pack()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var q dns.Msg
		if err := q.Unpack(w); err != nil {
			b.Fatal(err)
		}
		q.Response = true
		if _, err := q.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}

// udpClient starts srv listening on loopback and returns a UDP socket to
// it with a query for name packed; both close when b ends.
func udpClient(b *testing.B, srv *resolver.Server, name string) (net.Conn, []byte) {
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := net.Dial("udp", srv.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	w, _ := m.Pack()
	return conn, w
}

// BenchmarkServerUDPCached is a cache hit through the real server: a UDP
// query over loopback to the listening server and its answer back, one at
// a time, with the production chain and fast path (see benchServer). The
// client reuses its buffers, so allocs/op is the server's.
func BenchmarkServerUDPCached(b *testing.B) {
	conn, w := udpClient(b, benchServer(b, true), "www.example.org.")
	buf := make([]byte, 1500)
	ask := func() {
		if _, err := conn.Write(w); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	ask() // warm the cache
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ask()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// missAsker starts srv and returns the client of a miss benchmark: each
// call asks srv for a new name, name with the seven digits after its
// first label's "m" counted up, and checks that the answer is NOERROR
// with one record.
func missAsker(b *testing.B, srv *resolver.Server, name string) func() {
	conn, w := udpClient(b, srv, name)
	digits := w[12+2 : 12+2+7] // after the length octet and "m"
	buf := make([]byte, 1500)
	n := 0
	return func() {
		n++
		for i, v := len(digits)-1, n; i >= 0; i, v = i-1, v/10 {
			digits[i] = byte('0' + v%10)
		}
		if _, err := conn.Write(w); err != nil {
			b.Fatal(err)
		}
		k, err := conn.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		if k < 12 || buf[3]&0xf != 0 || buf[7] != 1 { // NOERROR, one answer
			b.Fatalf("answer % x", buf[:k])
		}
	}
}

// BenchmarkServerUDPMiss is a cache miss through the real server: a UDP
// query for a new name over loopback, forwarded over loopback to a fake
// upstream (internal/dnstest, in this process), answered and cached, one
// at a time. allocs/op counts the server, the forwarder and the fake
// upstream's miekg/dns server alike; the client allocates nothing.
func BenchmarkServerUDPMiss(b *testing.B) {
	auth := dnstest.Start(b, dnstest.WithWildcard())
	ucfg := upstream.Config{Servers: []string{auth.Addr}}
	ucfg.SetDefaults()
	fwd, err := upstream.New(ucfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fwd.Close() })
	ask := missAsker(b, benchServerOver(b, true, fwd, 1<<20), "m0000000.miss.example.")
	ask() // the first miss dials, grows pools
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, sch0 := cputime.Process(), cputime.Schedules()
	for i := 0; i < b.N; i++ {
		ask()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	// Every goroutine hand-off of the miss (reader, worker, flight,
	// upstream exchange and back), the client's and fake upstream's too.
	b.ReportMetric((cputime.Schedules()-sch0)/float64(b.N), "scheds/op")
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
}
