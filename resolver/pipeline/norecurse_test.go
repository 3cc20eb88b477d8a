package pipeline_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/recursive"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// TestRecursionNotDesired: a query with RD clear is answered from the
// cache, or REFUSED with EDE 20, and never reaches an upstream or the root
// (RFC 1034 §4.3.1; issue 20, recursion fix 1), in both modes.
func TestRecursionNotDesired(t *testing.T) {
	t.Parallel()
	const answer = "www.example. 300 IN A 192.0.2.1"
	modes := []struct {
		name string
		// start returns the route and a count of the queries it sent.
		start func(t *testing.T) (query.Resolver, func() int)
	}{
		{"forward", func(t *testing.T) (query.Resolver, func() int) {
			up := dnstest.Start(t, dnstest.WithZone("example."))
			up.Add(answer)
			fwd, err := upstream.New(upstream.Config{Servers: []string{up.Addr}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return fwd, up.Count
		}},
		{"recursive", func(t *testing.T) (query.Resolver, func() int) {
			h := dnstest.StartHierarchy(t, "127.0.0.2")
			h.Server("127.0.0.2").AddZone(".", ". 86400 IN NS a.root.test.", "a.root.test. 86400 IN A 127.0.0.2", answer)
			cfg := recursive.DefaultConfig()
			cfg.RootHints, cfg.Port, cfg.QueryLoopback = []string{"a.root.test 127.0.0.2"}, h.Port, true
			rec, err := recursive.New(cfg, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return rec, h.Count
		}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			route, sent := mode.start(t)
			ccfg := cache.DefaultConfig()
			c := cache.New(ccfg, route, nil, nil, nil)
			t.Cleanup(c.Close)
			var tables atomic.Pointer[blocklist.Table]
			set, err := blocklist.NewBuilder().Build()
			if err != nil {
				t.Fatal(err)
			}
			tables.Store(&blocklist.Table{Set: set})
			bc := pipeline.BlockingConfig{}
			bc.SetDefaults()
			p, err := pipeline.Build(pipeline.Parts{Blocking: bc, Tables: &tables, Cache: c})
			if err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name  string
				rd    bool
				rcode int
				ede   bool // EDE 20 in the answer
				want  []string
				sent  bool // the route sent queries for this one
			}{
				{"RD=0 before the name is cached: REFUSED", false, dns.RcodeRefused, true, nil, false},
				{"RD=1 resolves and caches", true, dns.RcodeSuccess, false, []string{answer}, true},
				{"RD=0 once cached: the cached answer", false, dns.RcodeSuccess, false, []string{answer}, false},
			}
			for _, st := range steps {
				before := sent()
				m := serve(t, p, "www.example.", st.rd)
				if m.Rcode != st.rcode || m.RecursionDesired != st.rd {
					t.Errorf("%s: rcode %s RD %v", st.name, dns.RcodeToString[m.Rcode], m.RecursionDesired)
				}
				var got []string
				for _, rr := range m.Answer {
					got = append(got, strings.Join(strings.Fields(rr.String()), " "))
				}
				if !slices.Equal(got, st.want) {
					t.Errorf("%s: answer %q, want %q", st.name, got, st.want)
				}
				if hasEDE(m, dns.ExtendedErrorCodeNotAuthoritative) != st.ede {
					t.Errorf("%s: EDE 20 present %v, want %v: %v", st.name, !st.ede, st.ede, m.IsEdns0())
				}
				if (sent() > before) != st.sent {
					t.Errorf("%s: route sent %d queries", st.name, sent()-before)
				}
			}
		})
	}
}

// serve sends name/A, with RD as given and EDNS, through p as a UDP
// packet from a loopback client.
func serve(t *testing.T, p *pipeline.Pipeline, name string, rd bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, dns.TypeA)
	q.RecursionDesired = rd
	q.SetEdns0(1232, false)
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b := p.Serve(context.Background(), pkt, netip.MustParseAddrPort("127.0.0.1:5353"), query.ProtoUDP, make([]byte, 0, 4096))
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	return m
}

func hasEDE(m *dns.Msg, code uint16) bool {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == code {
				return true
			}
		}
	}
	return false
}
