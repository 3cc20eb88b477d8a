package resolver_test

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/internal/syncbuf"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// list is one list of a test table: its rules are Subtree unless the name
// starts with "*." (Below) or "=" (Exact).
type list struct {
	info  blocklist.ListInfo
	names []string
	data  uint32 // the rules' Payload.Data (local data, own addresses)
}

func buildTable(t testing.TB, lists ...list) *blocklist.Table {
	t.Helper()
	b := blocklist.NewBuilder()
	tab := &blocklist.Table{}
	for i, l := range lists {
		for _, n := range l.names {
			r := blocklist.Rule{Name: n, Scope: blocklist.Subtree, Allow: l.info.Allow,
				Payload: blocklist.Payload{List: uint16(i), Category: uint16(i), Action: l.info.Action, Data: l.data}}
			switch {
			case len(n) > 2 && n[:2] == "*.":
				r.Name, r.Scope = n[2:], blocklist.Below
			case len(n) > 1 && n[0] == '=':
				r.Name, r.Scope = n[1:], blocklist.Exact
			}
			if err := b.Add(r); err != nil {
				t.Fatalf("add %q: %v", n, err)
			}
		}
		l.info.Entries = len(l.names)
		tab.Lists = append(tab.Lists, l.info)
		tab.Categories = append(tab.Categories, "cat-"+l.info.Name)
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	tab.Set = set
	return tab
}

// chainConfig is what a test varies of the production chain newChain
// assembles: guard (ACL, rate limit, sanity) → policy (table) → cache → up.
type chainConfig struct {
	table     *blocklist.Table
	up        query.Resolver
	cacheSize int                  // entries; 0: 1000
	clock     clock.Clock          // the cache's, and the guard's unless guard.Clock is set; nil: real
	guard     pipeline.GuardConfig // ACL, rate limit, CHAOS
	blockLog  *logs.BlockLog       // may be nil
	metrics   *pipeline.Metrics    // may be nil
	observer  query.Observer       // sees every answer; may be nil
}

// chain is the assembled chain, its parts kept so that the UDP fast path
// can be built over the same guard, policy and cache.
type chain struct {
	guard    *pipeline.Guard
	policy   *pipeline.Policy
	cache    *cache.Cache
	metrics  *pipeline.Metrics
	observer query.Observer
}

// newChain assembles cc's chain, the one place the tests of the packet
// path (the fuzz target, the fast-path comparison, the benchmarks) build
// it; the cache closes when t ends.
func newChain(t testing.TB, cc chainConfig) *chain {
	t.Helper()
	if cc.cacheSize == 0 {
		cc.cacheSize = 1000
	}
	if cc.clock == nil {
		cc.clock = clock.Real{}
	}
	if cc.guard.Clock == nil {
		cc.guard.Clock = cc.clock
	}
	tables := &atomic.Pointer[blocklist.Table]{}
	tables.Store(cc.table)
	ccfg := cache.Config{Size: cc.cacheSize}
	ccfg.SetDefaults()
	c := cache.New(ccfg, cc.up, cc.clock, nil, nil)
	t.Cleanup(c.Close)
	bc := pipeline.BlockingConfig{}
	bc.SetDefaults()
	policy := pipeline.NewPolicy(bc, tables, c, cc.blockLog, cc.metrics)
	guard, err := pipeline.NewGuard(cc.guard, policy, cc.metrics)
	if err != nil {
		t.Fatal(err)
	}
	return &chain{guard: guard, policy: policy, cache: c, metrics: cc.metrics, observer: cc.observer}
}

// pipeline is the chain as the listeners serve it, without the fast path.
func (c *chain) pipeline() *pipeline.Pipeline {
	return pipeline.New(c.guard, pipeline.Options{Metrics: c.metrics, Observer: c.observer})
}

// fastPath is the UDP fast path over the chain's guard, policy and cache.
func (c *chain) fastPath(t testing.TB) *pipeline.FastPath {
	t.Helper()
	fp := pipeline.NewFastPath(c.guard, c.policy, c.cache)
	if fp == nil {
		t.Fatal("no fast path")
	}
	return fp
}

// server is a server for DNS on addr (listening once Listen is called)
// answering with the chain, on the fast path too when fast.
func (c *chain) server(t testing.TB, addr string, fast bool) *resolver.Server {
	t.Helper()
	srv, err := resolver.NewServer(resolver.ListenConfig{DNS: []string{addr}}, c.pipeline(), c.metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fast {
		srv.SetFastPath(c.fastPath(t))
	}
	return srv
}

// syncBuffer collects the block log's JSON lines, written by its writer
// goroutine while the test reads them.
type syncBuffer struct{ syncbuf.Buffer }

func (s *syncBuffer) events(t testing.TB) []logs.BlockEvent {
	var out []logs.BlockEvent
	dec := json.NewDecoder(strings.NewReader(s.String()))
	for dec.More() {
		var ev logs.BlockEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("block log line is not JSON: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

// env is a running Bulwark request path (guard, policy, forwarder) on
// loopback in front of fake upstreams.
type env struct {
	srv    *resolver.Server
	addr   string
	ups    []*dnstest.Server
	log    *syncBuffer
	blog   *logs.BlockLog
	rm     *pipeline.Metrics
	reg    *prometheus.Registry
	tables *atomic.Pointer[blocklist.Table]
}

type envOpts struct {
	upstreams  int
	timeout    time.Duration
	tryTimeout time.Duration
	listen     string
	chain      func(next query.Resolver) query.Resolver // optional extra step above the forwarder
	guard      pipeline.GuardConfig
	listenCfg  resolver.ListenConfig // DNS defaults to []string{listen}
}

func startEnv(t testing.TB, tab *blocklist.Table, o envOpts) *env {
	t.Helper()
	if o.upstreams == 0 {
		o.upstreams = 1
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	e := &env{log: &syncBuffer{}, reg: prometheus.NewRegistry(), tables: &atomic.Pointer[blocklist.Table]{}}
	e.tables.Store(tab)
	ucfg := upstream.Config{Timeout: o.timeout, TryTimeout: o.tryTimeout}
	for i := 0; i < o.upstreams; i++ {
		u := dnstest.Start(t, dnstest.WithWildcard())
		e.ups = append(e.ups, u)
		ucfg.Servers = append(ucfg.Servers, u.Addr)
	}
	ucfg.SetDefaults()
	if errs := ucfg.Validate("upstream"); len(errs) > 0 {
		t.Fatal(errs)
	}
	rm := pipeline.NewMetrics(e.reg)
	e.rm = rm
	fwd, err := upstream.New(ucfg, upstream.NewMetrics(e.reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	var next query.Resolver = fwd
	if o.chain != nil {
		next = o.chain(next)
	}
	e.blog = logs.NewBlockLog(e.log, nil, nil)
	bcfg := pipeline.BlockingConfig{}
	bcfg.SetDefaults()
	gcfg := o.guard
	if gcfg.Clock == nil {
		gcfg.Clock = clock.Real{}
	}
	chain, err := pipeline.NewGuard(gcfg, pipeline.NewPolicy(bcfg, e.tables, next, e.blog, rm), rm)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := o.listenCfg
	if lcfg.DNS == nil {
		lcfg.DNS = []string{o.listen}
	}
	e.serve(t, lcfg, pipeline.New(chain, pipeline.Options{Metrics: rm}))
	return e
}

// serve listens with pipe on lcfg (a 2s TCP idle timeout unless set) until
// the test ends, then shuts down and closes the block log.
func (e *env) serve(t testing.TB, lcfg resolver.ListenConfig, pipe *pipeline.Pipeline) {
	t.Helper()
	if lcfg.TCPIdleTimeout == 0 {
		lcfg.TCPIdleTimeout = 2 * time.Second
	}
	lcfg.SetDefaults()
	var err error
	if e.srv, err = resolver.NewServer(lcfg, pipe, e.rm, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.blog.Close) // after the shutdown below (cleanups run last first)
	listen(t, e.srv)
	e.addr = e.srv.Addrs()[0].String()
}

// listen starts srv's listeners and shuts it down when t ends.
func listen(t testing.TB, srv *resolver.Server) {
	t.Helper()
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

// query asks the server one question over net ("udp" or "tcp").
func (e *env) query(t testing.TB, net, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(1232, false)
	}
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, e.addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", net, name, err)
	}
	return resp
}

func addrOf(rr dns.RR) netip.Addr {
	switch rr := rr.(type) {
	case *dns.A:
		a, _ := netip.AddrFromSlice(rr.A.To4())
		return a
	case *dns.AAAA:
		a, _ := netip.AddrFromSlice(rr.AAAA)
		return a
	}
	return netip.Addr{}
}

func findEDE(m *dns.Msg) *dns.EDNS0_EDE {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if ede, ok := o.(*dns.EDNS0_EDE); ok {
				return ede
			}
		}
	}
	return nil
}

// metricValue returns the value of the counter or gauge name whose labels
// include the given name/value pairs (summed over the other labels).
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, reg, name, labels...)
}

// tenantEnv is a whole generation's request path as the daemon builds it
// (pipeline.Build: guard, policy, the shared cache, the forwarder, and the
// UDP fast path) with tenants, in front of an authority on loopback.
type tenantEnv struct {
	*env
	auth *dnstest.Authority
	qlog *syncBuffer
	ql   *logs.QueryLog // Close it to read qlog whole
	pipe *pipeline.Pipeline
}

// startTenantEnv is startEnv with tenants: the request path as the daemon
// builds it, over the shared cache, in front of tenantZone.
func startTenantEnv(t testing.TB, ts []tenant.Config, ecs tenant.ECSConfig, lc resolver.ListenConfig, opts ...func(*pipeline.Parts)) *tenantEnv {
	t.Helper()
	auth := dnstest.StartAuthority(t, "127.0.0.1:0")
	auth.AddZone("example.", tenantZone...)
	tab := tenantTable(t)
	e := &env{log: &syncBuffer{}, reg: prometheus.NewRegistry(), tables: &atomic.Pointer[blocklist.Table]{}}
	e.tables.Store(tab)
	ucfg := upstream.Config{Servers: []string{auth.Addr}}
	ucfg.SetDefaults()
	fwd, err := upstream.New(ucfg, upstream.NewMetrics(e.reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := cache.Config{Size: 1000}
	ccfg.SetDefaults()
	c := cache.New(ccfg, fwd, clock.Real{}, nil, nil)
	t.Cleanup(c.Close)
	var sel *tenant.Selector // as the daemon has it: none without tenants
	if len(ts) > 0 {
		if sel, err = tenant.New(ts, ecs, tenant.Refs(tab.Lists)); err != nil {
			t.Fatal(err)
		}
	}
	e.rm = pipeline.NewMetrics(e.reg)
	e.blog = logs.NewBlockLog(e.log, nil, nil)
	qlog := &syncBuffer{}
	ql := logs.NewQueryLog(qlog, 1, nil, nil)
	bcfg := pipeline.BlockingConfig{}
	bcfg.SetDefaults()
	parts := pipeline.Parts{
		Guard: pipeline.GuardConfig{Clock: clock.Real{}}, Blocking: bcfg, Tables: e.tables, BlockLog: e.blog,
		Cache: c, Fast: true, Tenants: sel,
		Options: pipeline.Options{Metrics: e.rm, Observer: ql},
	}
	for _, o := range opts {
		o(&parts)
	}
	pipe, err := pipeline.Build(parts)
	if err != nil {
		t.Fatal(err)
	}
	if lc.DNS == nil {
		lc.DNS = []string{"127.0.0.1:0"}
	}
	t.Cleanup(ql.Close) // after the server's shutdown
	e.serve(t, lc, pipe)
	return &tenantEnv{env: e, auth: auth, qlog: qlog, ql: ql, pipe: pipe}
}

// exchangeFrom asks addr one question from the loopback address src.
func exchangeFrom(t *testing.T, src, netw, addr, name string, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	if edns {
		m.SetEdns0(1232, false)
	}
	var local net.Addr = &net.UDPAddr{IP: net.ParseIP(src)}
	if netw == "tcp" {
		local = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s from %s: %v", netw, name, src, err)
	}
	return resp
}

// answerOf renders an answer as the tests compare it: the rcode and the
// addresses, in order.
func answerOf(m *dns.Msg) string {
	s := dns.RcodeToString[m.Rcode]
	for _, rr := range m.Answer {
		if a := addrOf(rr); a.IsValid() {
			s += " " + a.String()
		}
	}
	return s
}
