package recursive

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// Addresses of the standard simulated world (startWorld).
const (
	ipRoot      = "127.0.0.2"  // "."
	ipTest      = "127.0.0.3"  // "test."
	ipExample   = "127.0.0.4"  // "example."
	ipZone1     = "127.0.0.5"  // "example.test." (ns1)
	ipZone2     = "127.0.0.6"  // "example.test." (ns2)
	ipHost      = "127.0.0.7"  // "dns-host.example.", "shop.test.", "cdn.example."
	worldServer = "127.0.0.20" // first address free for a test's own servers
)

// startWorld starts the standard hierarchy, plus servers at extra
// addresses (no zones) for the test's own additions:
//
//	.                 127.0.0.2   a.root-servers.test
//	test.             127.0.0.3   ns1.nic.test
//	example.          127.0.0.4   ns.nic.example
//	example.test.     127.0.0.5, 127.0.0.6 (glue from test.)
//	shop.test.        127.0.0.7   ns.dns-host.example (glue-less: another TLD)
//	cdn.example.      127.0.0.7   ns.dns-host.example
//	dns-host.example. 127.0.0.7
func startWorld(t testing.TB, extra ...string) *dnstest.Hierarchy {
	t.Helper()
	h := dnstest.StartHierarchy(t, append([]string{ipRoot, ipTest, ipExample, ipZone1, ipZone2, ipHost}, extra...)...)
	h.Server(ipRoot).AddZone(".",
		". 518400 IN NS a.root-servers.test.",
		"a.root-servers.test. 518400 IN A "+ipRoot,
		"test. 172800 IN NS ns1.nic.test.",
		"ns1.nic.test. 172800 IN A "+ipTest,
		"example. 172800 IN NS ns.nic.example.",
		"ns.nic.example. 172800 IN A "+ipExample,
	)
	h.Server(ipTest).AddZone("test.",
		"test. 86400 IN NS ns1.nic.test.",
		"ns1.nic.test. 86400 IN A "+ipTest,
		"a.root-servers.test. 86400 IN A "+ipRoot,
		"example.test. 86400 IN NS ns1.example.test.",
		"example.test. 86400 IN NS ns2.example.test.",
		"example.test. 86400 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
		"ns1.example.test. 86400 IN A "+ipZone1,
		"ns2.example.test. 86400 IN A "+ipZone2,
		"shop.test. 86400 IN NS ns.dns-host.example.",
	)
	h.Server(ipExample).AddZone("example.",
		"example. 86400 IN NS ns.nic.example.",
		"ns.nic.example. 86400 IN A "+ipExample,
		"dns-host.example. 86400 IN NS ns.dns-host.example.",
		"cdn.example. 86400 IN NS ns.dns-host.example.",
		"ns.dns-host.example. 86400 IN A "+ipHost,
	)
	zone := []string{
		"example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300",
		"example.test. 3600 IN NS ns1.example.test.",
		"example.test. 3600 IN NS ns2.example.test.",
		"ns1.example.test. 3600 IN A " + ipZone1,
		"ns2.example.test. 3600 IN A " + ipZone2,
		"www.example.test. 300 IN A 192.0.2.1",
		"www.example.test. 300 IN AAAA 2001:db8::1",
		"alias.example.test. 300 IN CNAME www.example.test.",
		"away.example.test. 300 IN CNAME www.shop.test.",
		"dangling.example.test. 300 IN CNAME nope.example.test.",
		"a.b.c.d.e.f.g.h.i.j.k.l.example.test. 300 IN A 192.0.2.12",
		"old.example.test. 300 IN DNAME new.example.test.",
		"x.new.example.test. 300 IN A 192.0.2.2",
		"moved.example.test. 300 IN DNAME cdn.example.",
	}
	h.Server(ipZone1).AddZone("example.test.", zone...)
	h.Server(ipZone2).AddZone("example.test.", zone...)
	host := h.Server(ipHost)
	host.AddZone("dns-host.example.",
		"dns-host.example. 3600 IN NS ns.dns-host.example.",
		"ns.dns-host.example. 3600 IN A "+ipHost,
	)
	host.AddZone("shop.test.",
		"shop.test. 3600 IN NS ns.dns-host.example.",
		"www.shop.test. 300 IN CNAME edge.cdn.example.",
	)
	host.AddZone("cdn.example.",
		"cdn.example. 3600 IN NS ns.dns-host.example.",
		"edge.cdn.example. 60 IN A 192.0.2.80",
		"x.cdn.example. 60 IN A 192.0.2.81",
	)
	return h
}

// newResolver builds a Resolver for h: the root hint is h's root, the port
// h's, loopback allowed; mod adjusts the config. A send filter fails the
// test if anything but loopback is ever addressed.
func newResolver(t *testing.T, h *dnstest.Hierarchy, mod func(*Config)) (*Resolver, *prometheus.Registry) {
	t.Helper()
	return newResolverClock(t, h, nil, mod)
}

func newResolverClock(t *testing.T, h *dnstest.Hierarchy, clk clock.Clock, mod func(*Config)) (*Resolver, *prometheus.Registry) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RootHints = []string{"a.root-servers.test " + ipRoot}
	cfg.Port = h.Port
	cfg.QueryLoopback = true
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	r, err := New(cfg, clk, NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.sendFilter = func(a netip.Addr) bool {
		if !a.IsLoopback() {
			t.Errorf("resolver tried to send to %s, which is not loopback", a)
			return false
		}
		return true
	}
	return r, reg
}

// patientRTO makes spurious timeouts (a loaded machine, the race detector)
// all but impossible, for tests that count the queries servers saw.
var patientRTO = rtoLimits{initial: 3 * time.Second, min: 3 * time.Second, max: 5 * time.Second}

// patient gives r patientRTO and returns it.
func patient(r *Resolver) *Resolver {
	r.infra.rto = patientRTO
	return r
}

// request is a client query as the listener passes it on.
func request(name string, qtype uint16) *contract.Request {
	m := new(dns.Msg).SetQuestion(name, qtype)
	return contract.NewRequest(m, netip.MustParseAddrPort("192.0.2.200:5353"), contract.ProtoUDP)
}

// resolve asks r for name/qtype with a generous deadline.
func resolve(t *testing.T, r contract.Resolver, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Resolve(ctx, request(name, qtype))
}

// mustResolve is resolve for queries that must succeed.
func mustResolve(t *testing.T, r contract.Resolver, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m, err := resolve(t, r, name, qtype)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.Type(qtype), err)
	}
	return m
}

// rrs renders records as "owner TTL IN TYPE rdata" with single spaces.
func rrs(list []dns.RR) []string {
	var out []string
	for _, rr := range list {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

// seen renders the queries of h for failure messages and assertions.
func seen(h *dnstest.Hierarchy) []string {
	var out []string
	for _, s := range h.Queries() {
		out = append(out, s.String())
	}
	return out
}

// countAt is how many queries the server at ip received for name (any
// case) and qtype.
func countAt(h *dnstest.Hierarchy, ip, name string, qtype uint16) int {
	n := 0
	for _, s := range h.Queries() {
		if s.Server == ip && strings.EqualFold(s.Name, name) && s.Type == qtype {
			n++
		}
	}
	return n
}

// histogram reads a histogram's sample count and sum from reg.
func histogram(t *testing.T, reg *prometheus.Registry, name string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			h := mf.Metric[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0, 0
}

// counter reads a counter (with the given label value, if any) from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if label == "" || len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{%s}", name, label)
	return 0
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
