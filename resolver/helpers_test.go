package resolver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/promtest"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// list is one list of a test table: its rules are Subtree unless the name
// starts with "*." (Below) or "=" (Exact).
type list struct {
	info  blocklist.ListInfo
	names []string
}

func buildTable(t testing.TB, lists ...list) *blocklist.Table {
	t.Helper()
	b := blocklist.NewBuilder()
	tab := &blocklist.Table{}
	for i, l := range lists {
		for _, n := range l.names {
			r := blocklist.Rule{Name: n, Scope: blocklist.Subtree, Allow: l.info.Allow,
				Payload: blocklist.Payload{List: uint16(i), Category: uint16(i), Action: l.info.Action}}
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

// syncBuffer is a bytes.Buffer safe for the block log's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) events(t testing.TB) []logs.BlockEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logs.BlockEvent
	dec := json.NewDecoder(bytes.NewReader(s.b.Bytes()))
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
	if lcfg.TCPIdleTimeout == 0 {
		lcfg.TCPIdleTimeout = 2 * time.Second
	}
	lcfg.SetDefaults()
	if e.srv, err = resolver.NewServer(lcfg, pipeline.New(chain, pipeline.Options{Metrics: rm}), rm, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	e.addr = e.srv.Addrs()[0].String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(ctx)
		e.blog.Close()
	})
	return e
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
