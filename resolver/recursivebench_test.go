package resolver_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver/recursive"
)

// BenchmarkServerUDPRecursiveMiss is a recursive-mode cache miss through
// the real server, as bench/recursive's cold workloads make them: a UDP
// query over loopback for a new name in a zone whose delegation is
// cached, resolved from the root (a dnstest.Hierarchy: ".", "test.") by
// one query to the zone's server, answered and cached, one at a time. The
// zone's server is a wire-level wildcard (dnstest.StartWildcardLeaf, as
// NSD with minimal-responses answers the cold names), and the client
// reuses its buffers, so B/op and allocs/op are the server's, the
// pipeline's, the cache's and the recursive resolver's alone.
func BenchmarkServerUDPRecursiveMiss(b *testing.B) {
	const root, tld, leaf = "127.0.0.2", "127.0.0.3", "127.0.0.44"
	h := dnstest.StartHierarchy(b, root, tld)
	h.Server(root).AddZone(".",
		". 518400 IN NS a.root-servers.test.",
		"a.root-servers.test. 518400 IN A "+root,
		"test. 172800 IN NS ns1.nic.test.",
		"ns1.nic.test. 172800 IN A "+tld,
	)
	h.Server(tld).AddZone("test.",
		"test. 86400 IN NS ns1.nic.test.",
		"ns1.nic.test. 86400 IN A "+tld,
		"bench.test. 86400 IN NS ns.bench.test.",
		"ns.bench.test. 86400 IN A "+leaf,
	)
	dnstest.StartWildcardLeaf(b, net.JoinHostPort(leaf, strconv.Itoa(h.Port)))
	cfg := recursive.DefaultConfig()
	cfg.RootHints = []string{"a.root-servers.test " + root}
	cfg.Port, cfg.QueryLoopback, cfg.IPv6 = h.Port, true, false
	rec, err := recursive.New(cfg, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ask := missAsker(b, benchServerOver(b, true, rec, 1<<20), "m0000000.bench.test.")
	ask() // the first miss primes the root and caches the delegations
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ask()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
