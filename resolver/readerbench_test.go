package resolver_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
)

// readerBenchNames is the size of the list BenchmarkReaderBlocked blocks
// from, and readerBenchQueries how many distinct queries it cycles
// through: enough that the trie's walk meets cold cache lines, as a flood
// of random listed names does.
const (
	readerBenchNames   = 200_000
	readerBenchQueries = 8192
)

// randomLabel is a label of 4-12 letters and digits, as bench/gen writes.
func randomLabel(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 4+r.IntN(9))
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return string(b)
}

// BenchmarkReaderBlocked is the UDP reader's own work for a blocked query
// (no sockets): AnswerFast into a reused answer buffer, as serveUDP calls
// it, over a list of readerBenchNames random names, with the block log
// writing to nowhere on its goroutine. Unlike the ServePacket benchmarks
// it allocates nothing per query, so the collector does not blur it; run
// it with -cpu 1 to share one core with the log's writer as a pinned
// server does.
func BenchmarkReaderBlocked(b *testing.B) {
	r := rand.New(rand.NewPCG(20261203, 17))
	tlds := []string{"com", "net", "org", "info", "xyz", "club"}
	names := make([]string, readerBenchNames)
	for i := range names {
		names[i] = randomLabel(r) + "." + tlds[r.IntN(len(tlds))]
		if r.IntN(4) == 0 {
			names[i] = randomLabel(r) + "." + names[i]
		}
	}
	tab := buildTable(b, list{info: blocklist.ListInfo{Name: "bench", Action: blocklist.ActionNXDomain}, names: names})
	blog := logs.NewBlockLog(nullWriter{}, nil, nil)
	b.Cleanup(blog.Close)
	c := newChain(b, chainConfig{table: tab, up: answerA, blockLog: blog, metrics: pipeline.NewMetrics(nil)})
	pipe := c.pipeline().WithFastPath(c.fastPath(b))
	pkts := make([][]byte, readerBenchQueries)
	for i := range pkts {
		n := names[r.IntN(len(names))]
		if r.IntN(3) == 0 {
			n = "www." + n // below a listed name: a Subtree rule
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(n), dns.TypeA)
		m.Id = uint16(i)
		w, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		pkts[i] = w
	}
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	out := make([]byte, 0, 512)
	for i, p := range pkts {
		ans, ok := pipe.AnswerFast(p, client, out[:0])
		if !ok || len(ans) < 12 || ans[3]&0xf != dns.RcodeNameError {
			b.Fatalf("query %d (%x): not answered NXDOMAIN on the fast path (handled %v)", i, p, ok)
		}
	}
	b.ReportAllocs()
	i := 0
	var at time.Time
	for b.Loop() {
		if i%32 == 0 { // the reader's clock read, once per recvmmsg batch
			at = time.Now()
		}
		if _, ok := pipe.AnswerFastAt(pkts[i%len(pkts)], client, out[:0], at); !ok {
			b.Fatal("not answered on the fast path")
		}
		i++
	}
}
