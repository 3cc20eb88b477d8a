package pipeline_test

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// The pipeline's tests run queries through pipelines that Build made over
// a real cache (resolver/cache) and an upstream written here.

// rule is one rule of a test table, in list order: block lists first.
type rule struct {
	name   string
	list   uint16
	allow  bool
	action blocklist.Action
}

// lists of the test table: 0 blocks (NXDOMAIN), 1 allows, 2 answers
// NODATA, 3 REFUSED.
var testLists = []blocklist.ListInfo{{Name: "block"}, {Name: "allow", Allow: true}, {Name: "nodata", Action: blocklist.ActionNoData}, {Name: "refused", Action: blocklist.ActionRefused}}

func table(t *testing.T, rules ...rule) *blocklist.Table {
	t.Helper()
	b := blocklist.NewBuilder()
	for _, r := range rules {
		p := blocklist.Payload{List: r.list, Action: testLists[r.list].Action}
		if err := b.Add(blocklist.Rule{Name: r.name, Scope: blocklist.Subtree, Allow: testLists[r.list].Allow, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return &blocklist.Table{Set: set, Lists: testLists, Categories: []string{"c0", "c1", "c2", "c3"}}
}

var baseRules = []rule{{name: "evil.example"}, {name: "cdn.tracker.example"}, {name: "good.evil.example", list: 1},
	{name: "nodata.example", list: 2}, {name: "refused.example", list: 3}}

// sinkRecorder is a BlockSink keeping the names it was told of. The
// policy tells it on the query's goroutine, and the tests ask one query
// at a time, so it needs no lock.
type sinkRecorder struct{ names []string }

func (s *sinkRecorder) Blocked(h query.BlockHit) { s.names = append(s.names, h.Name) }

func (s *sinkRecorder) got() string { return strings.Join(s.names, ",") }

// stack is a pipeline built by Build over a real cache, whose route is an
// upstream written here that counts what reaches it.
type stack struct {
	pl     *pipeline.Pipeline
	tables *atomic.Pointer[blocklist.Table]
	routed *atomic.Int64 // shared: one cache, one route
	reg    *prometheus.Registry
	sink   *sinkRecorder
}

// countingUpstream answers every name with an address (A) or NODATA (other
// types); alias.example is a CNAME to cdn.tracker.example (which the lists
// block).
func countingUpstream(routed *atomic.Int64) query.Resolver {
	return query.ResolverFunc(func(_ context.Context, req *query.Request) (*dns.Msg, error) {
		routed.Add(1)
		q := req.Question
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Qtype)
		m.Response, m.RecursionAvailable = true, true
		rr := func(s string) dns.RR { r, _ := dns.NewRR(s); return r }
		switch {
		case strings.EqualFold(q.Name, "alias.example."):
			m.Answer = []dns.RR{rr(q.Name + " 300 IN CNAME cdn.tracker.example."), rr("cdn.tracker.example. 300 IN A 192.0.2.9")}
		case q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{rr(q.Name + " 300 IN A 192.0.2.1")}
		default: // NODATA
			m.Ns = []dns.RR{rr("example. 600 IN SOA ns.example. hostmaster.example. 1 7200 900 1209600 300")}
		}
		return m, nil
	})
}

// newStacks builds two pipelines over one cache, route and table: one
// without the fast path, one with it.
func newStacks(t *testing.T, acl pipeline.ACLConfig) (chain, fast *stack) {
	t.Helper()
	tables := &atomic.Pointer[blocklist.Table]{}
	tables.Store(table(t, baseRules...))
	routed := &atomic.Int64{}
	chain, fast = &stack{tables: tables, routed: routed}, &stack{tables: tables, routed: routed}
	ccfg := cache.Config{Size: 1000}
	ccfg.SetDefaults()
	c := cache.New(ccfg, countingUpstream(routed), clock.Real{}, nil, nil)
	t.Cleanup(c.Close)
	bc := pipeline.BlockingConfig{}
	bc.SetDefaults()
	for _, s := range []*stack{chain, fast} {
		s.reg, s.sink = prometheus.NewRegistry(), &sinkRecorder{}
		pl, err := pipeline.Build(pipeline.Parts{Guard: pipeline.GuardConfig{ACL: acl}, Blocking: bc, Tables: tables,
			Cache: c, Fast: s == fast, Sink: s.sink, Options: pipeline.Options{Metrics: pipeline.NewMetrics(s.reg)}})
		if err != nil {
			t.Fatal(err)
		}
		s.pl = pl
	}
	return chain, fast
}

// ask is one query of a test: a name and type, changed by edit.
type ask struct {
	name  string
	qtype uint16
	from  string // client address; default 127.0.0.1
	edit  func(*dns.Msg)
}

func (a ask) packet(t *testing.T, id uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(a.name), a.qtype)
	m.Id = id
	if a.edit != nil {
		a.edit(m)
	}
	w, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (a ask) client() netip.AddrPort {
	from := a.from
	if from == "" {
		from = "127.0.0.1"
	}
	return netip.AddrPortFrom(netip.MustParseAddr(from), 5353)
}

// serve answers a as the UDP listener does; nil is no answer.
func (s *stack) serve(t *testing.T, a ask, id uint16) *dns.Msg {
	t.Helper()
	b := s.pl.ServeUDP(context.Background(), a.packet(t, id), a.client(), make([]byte, 0, 512))
	if b == nil {
		return nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpack the answer to %s: %v", a.name, err)
	}
	return m
}
