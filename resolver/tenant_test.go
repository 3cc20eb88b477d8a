package resolver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// tenantLists are the shared lists of these tests, in index order.
func tenantTable(t testing.TB) *blocklist.Table {
	return buildTable(t,
		list{info: blocklist.ListInfo{Name: "phishing"}, names: []string{"phish.example"}},
		list{info: blocklist.ListInfo{Name: "malware"}, names: []string{"malware.example"}},
		list{info: blocklist.ListInfo{Name: "ads"}, names: []string{"adnet.example"}},
		list{info: blocklist.ListInfo{Name: "a-exceptions", Allow: true}, names: []string{"ok.phish.example"}},
		list{info: blocklist.ListInfo{Name: "b-exceptions", Allow: true}, names: []string{"ok.malware.example"}},
	)
}

// tenantConfigs: council-a (127.0.0.2, id council-a) uses phishing with
// its own exceptions and block page; council-b (127.0.0.3, id council-b)
// uses malware and ads with its exceptions; everyone else gets the
// default policy (every block list, no claimed exception).
func tenantConfigs() []tenant.Config {
	return []tenant.Config{
		{Name: "council-a", Clients: []string{"127.0.0.2/32", "198.51.100.0/24"}, IDs: []string{"council-a"},
			Blocklists: []string{"phishing"}, Allowlists: []string{"a-exceptions"},
			Actions: map[string]string{"phishing": "sinkhole"}, Sinkhole: []string{"192.0.2.66"}},
		{Name: "council-b", Clients: []string{"127.0.0.3/32", "203.0.113.0/24"}, IDs: []string{"council-b"},
			Blocklists: []string{"malware", "ads"}, Allowlists: []string{"b-exceptions"}},
	}
}

// tenantZone is what the authority serves: plain names, and a name that
// reaches the ads network only through its CNAME (cloaking).
var tenantZone = []string{
	"phish.example. 300 IN A 192.0.2.10", "ok.phish.example. 300 IN A 192.0.2.11",
	"malware.example. 300 IN A 192.0.2.20", "ok.malware.example. 300 IN A 192.0.2.21",
	"adnet.example. 300 IN A 192.0.2.30", "track.adnet.example. 300 IN A 192.0.2.31",
	"www.shop.example. 300 IN CNAME track.adnet.example.",
	"www.example. 300 IN A 192.0.2.1",
}

// TestTenantsGetTheirOwnPolicy: each client gets its tenant's lists,
// exceptions and actions, on UDP (the fast path, then the cache) and TCP
// (the chain) alike; a client of no tenant gets the default policy; the
// block log, the query log and the metrics name the tenant.
func TestTenantsGetTheirOwnPolicy(t *testing.T) {
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, resolver.ListenConfig{})
	cases := []struct {
		client, name, want, tenant string
	}{
		// council-a: phishing only, answered with its own block page.
		{"127.0.0.2", "phish.example", "NOERROR 192.0.2.66", "council-a"},
		{"127.0.0.2", "www.phish.example", "NOERROR 192.0.2.66", "council-a"},
		{"127.0.0.2", "ok.phish.example", "NOERROR 192.0.2.11", "council-a"}, // its exception
		{"127.0.0.2", "malware.example", "NOERROR 192.0.2.20", "council-a"},  // not its list
		{"127.0.0.2", "ok.malware.example", "NOERROR 192.0.2.21", "council-a"},
		// council-b: malware and ads, the lists' own action.
		{"127.0.0.3", "phish.example", "NOERROR 192.0.2.10", "council-b"},
		{"127.0.0.3", "malware.example", "NXDOMAIN", "council-b"},
		{"127.0.0.3", "ok.malware.example", "NOERROR 192.0.2.21", "council-b"}, // its exception
		{"127.0.0.3", "adnet.example", "NXDOMAIN", "council-b"},
		{"127.0.0.3", "ok.phish.example", "NOERROR 192.0.2.11", "council-b"}, // phishing is not its list
		// Everyone else: every block list, and no tenant's exceptions.
		{"127.0.0.4", "phish.example", "NXDOMAIN", ""},
		{"127.0.0.4", "ok.phish.example", "NXDOMAIN", ""},
		{"127.0.0.4", "malware.example", "NXDOMAIN", ""},
		{"127.0.0.4", "ok.malware.example", "NXDOMAIN", ""},
		{"127.0.0.4", "www.example", "NOERROR 192.0.2.1", ""},
	}
	for _, netw := range []string{"udp", "udp", "tcp"} { // the second UDP round is answered from the cache
		for _, c := range cases {
			if got := answerOf(exchangeFrom(t, c.client, netw, e.addr, c.name, true)); got != c.want {
				t.Errorf("%s from %s (%s): got %q, want %q", c.name, c.client, netw, got, c.want)
			}
		}
	}
	e.blog.Close()
	blocks := map[string]string{} // client qname -> tenant action
	for _, ev := range e.log.events(t) {
		blocks[ev.Client+" "+ev.QName+" "+ev.Protocol] = ev.Tenant + " " + ev.Action
	}
	for _, c := range cases {
		if !strings.HasPrefix(c.want, "NXDOMAIN") && !strings.Contains(c.want, "192.0.2.66") {
			continue
		}
		want := c.tenant + " nxdomain"
		if c.tenant == "council-a" {
			want = "council-a sinkhole"
		}
		for _, proto := range []string{"udp", "tcp"} {
			if got := blocks[c.client+" "+c.name+" "+proto]; got != want {
				t.Errorf("block log for %s from %s over %s: tenant and action %q, want %q", c.name, c.client, proto, got, want)
			}
		}
	}
	// Every query is in the query log with its tenant.
	perTenant := map[string]int{}
	e.ql.Close() // every record was queued before its answer was sent
	for _, line := range strings.Split(strings.TrimSpace(e.qlog.String()), "\n") {
		var rec struct{ Client, Tenant string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("query log line %q: %v", line, err)
		}
		perTenant[rec.Client+" "+rec.Tenant]++
	}
	want := map[string]int{"127.0.0.2 council-a": 15, "127.0.0.3 council-b": 15, "127.0.0.4 ": 15}
	if fmt.Sprint(perTenant) != fmt.Sprint(want) {
		t.Errorf("query log clients and tenants = %v, want %v", perTenant, want)
	}
	for _, c := range []struct {
		metric string
		labels []string
		want   float64
	}{
		{"bulwark_tenant_queries_total", []string{"tenant", "council-a"}, 15},
		{"bulwark_tenant_queries_total", []string{"tenant", "council-b"}, 15},
		{"bulwark_tenant_blocked_total", []string{"tenant", "council-a", "list", "phishing"}, 6},
		{"bulwark_tenant_blocked_total", []string{"tenant", "council-b", "list", "malware"}, 3},
		{"bulwark_tenant_blocked_total", []string{"tenant", "council-b", "list", "ads"}, 3},
		{"bulwark_blocked_total", []string{"list", "phishing", "action", "sinkhole"}, 6},
		{"bulwark_blocked_total", []string{"list", "phishing", "action", "nxdomain"}, 6},
	} {
		if got := metricValue(t, e.reg, c.metric, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
}

// TestTenantCacheIsolation: council-b blocks www.shop.example through its
// CNAME into the ads network, which council-a does not block. The answer
// is cached once and shared, and each tenant gets its own verdict from it,
// in either order, over the fast path and the chain.
func TestTenantCacheIsolation(t *testing.T) {
	for _, order := range [][]string{{"127.0.0.2", "127.0.0.3"}, {"127.0.0.3", "127.0.0.2"}} {
		t.Run(strings.Join(order, "-then-"), func(t *testing.T) {
			e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, resolver.ListenConfig{})
			want := map[string]string{"127.0.0.2": "NOERROR 192.0.2.31", "127.0.0.3": "NXDOMAIN"}
			for round := range 3 {
				for _, client := range order {
					netw := "udp"
					if round == 2 {
						netw = "tcp"
					}
					if got := answerOf(exchangeFrom(t, client, netw, e.addr, "www.shop.example", false)); got != want[client] {
						t.Errorf("round %d: www.shop.example from %s (%s) = %q, want %q", round, client, netw, got, want[client])
					}
				}
			}
			// One upstream question: the cache is shared.
			if n := countQueries(e.auth, "www.shop.example."); n != 1 {
				t.Errorf("the authority was asked %d times for www.shop.example, want 1 (one shared cache entry)", n)
			}
			e.blog.Close()
			for _, ev := range e.log.events(t) {
				if ev.Client != "127.0.0.3" || ev.Tenant != "council-b" || ev.CNAME != "track.adnet.example" || ev.List != "ads" {
					t.Errorf("block log: %+v, want only council-b's CNAME blocks", ev)
				}
			}
		})
	}
}

func countQueries(a *dnstest.Authority, name string) int {
	n := 0
	for _, q := range a.Queries() {
		if strings.EqualFold(q.Name, name) {
			n++
		}
	}
	return n
}

// TestTenantByTrustedECS: a forwarder in tenant_ecs.trusted selects the
// tenant with the subnet it sends; from anyone else the option is
// ignored; an untrusted client's subnet is its own claim.
func TestTenantByTrustedECS(t *testing.T) {
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{Trusted: []string{"127.0.0.5/32"}}, resolver.ListenConfig{})
	ask := func(src string, subnet string) string {
		m := new(dns.Msg)
		m.SetQuestion("phish.example.", dns.TypeA)
		m.SetEdns0(1232, false)
		if subnet != "" {
			p := netip.MustParsePrefix(subnet)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
				SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()})
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		resp := udpFrom(t, src, e.addr, pkt)
		if resp == nil {
			t.Fatalf("no answer from %s with ECS %q", src, subnet)
		}
		return answerOf(resp)
	}
	for _, c := range []struct{ src, subnet, want string }{
		{"127.0.0.5", "198.51.100.0/24", "NOERROR 192.0.2.66"}, // council-a's network: its block page
		{"127.0.0.5", "203.0.113.0/24", "NOERROR 192.0.2.10"},  // council-b does not block phishing
		{"127.0.0.5", "192.0.2.0/24", "NXDOMAIN"},              // no tenant's: the default
		{"127.0.0.5", "", "NXDOMAIN"},
		{"127.0.0.5", "198.51.0.0/16", "NXDOMAIN"},             // wider than the tenant's network
		{"127.0.0.4", "198.51.100.0/24", "NXDOMAIN"},           // not a trusted forwarder
		{"127.0.0.3", "198.51.100.0/24", "NOERROR 192.0.2.10"}, // council-b's own client
	} {
		for range 2 { // the second asks after the answer is cached
			if got := ask(c.src, c.subnet); got != c.want {
				t.Errorf("from %s with ECS %q: %q, want %q", c.src, c.subnet, got, c.want)
			}
		}
	}
}

// unlogged leaves the block log and the query log out, whose records cost
// an allocation on either path and are not the fast path's.
func unlogged(p *pipeline.Parts) { p.BlockLog, p.Observer = nil, nil }

// The fast path stays allocation-free with tenants: selection by address,
// the tenant's view, its action override and block page, its counters.
func TestTenantFastPathAllocatesNothing(t *testing.T) {
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, resolver.ListenConfig{}, unlogged)
	buf := make([]byte, 0, 4096)
	for _, c := range []struct{ client, name string }{
		{"127.0.0.2:5353", "phish.example."}, {"127.0.0.2:5353", "www.example."}, {"127.0.0.3:5353", "malware.example."},
		{"127.0.0.3:5353", "phish.example."}, {"127.0.0.4:5353", "ok.phish.example."}, {"127.0.0.4:5353", "www.example."},
	} {
		client := netip.MustParseAddrPort(c.client)
		w := packQuery(t, c.name)
		e.pipe.ServeUDP(context.Background(), w, client, buf[:0]) // fill the cache
		if _, ok := e.pipe.AnswerFast(w, client, buf[:0]); !ok {
			t.Fatalf("%s from %s: the fast path declined", c.name, c.client)
		}
		if n := testing.AllocsPerRun(200, func() { e.pipe.AnswerFast(w, client, buf[:0]) }); n != 0 {
			t.Errorf("%s from %s: %v allocations per answered query, want 0", c.name, c.client, n)
		}
	}
}

// BenchmarkTenantFastPath is one fast path answer under one policy and
// under a tenant's view, in the same run, to compare.
func BenchmarkTenantFastPath(b *testing.B) {
	for _, bc := range []struct {
		name    string
		tenants []tenant.Config
		client  string
	}{
		{"one-policy", nil, "127.0.0.2:5353"},
		{"tenant", tenantConfigs(), "127.0.0.2:5353"},
	} {
		e := startTenantEnv(b, bc.tenants, tenant.ECSConfig{}, resolver.ListenConfig{}, unlogged)
		client := netip.MustParseAddrPort(bc.client)
		for _, name := range []string{"www.example.", "phish.example."} {
			w := packQuery(b, name)
			e.pipe.ServeUDP(context.Background(), w, client, nil)
			b.Run(bc.name+"/"+strings.TrimSuffix(name, "."), func(b *testing.B) {
				buf := make([]byte, 0, 4096)
				b.ReportAllocs()
				for b.Loop() {
					if _, ok := e.pipe.AnswerFast(w, client, buf[:0]); !ok {
						b.Fatal("declined")
					}
				}
			})
		}
	}
}

// TestTenantLogOnlyLinesNameTheTenant: what a log-only (trial) list would
// have blocked is logged with the tenant of the query, on the chain the
// fast path leaves such queries to.
func TestTenantLogOnlyLinesNameTheTenant(t *testing.T) {
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, resolver.ListenConfig{})
	tab := *e.tables.Load()
	tab.Lists = append(append([]blocklist.ListInfo(nil), tab.Lists...), blocklist.ListInfo{Name: "trial", LogOnly: true})
	b := blocklist.NewBuilder()
	if err := b.Add(blocklist.Rule{Name: "www.example", Payload: blocklist.Payload{List: uint16(len(tab.Lists) - 1)}}); err != nil {
		t.Fatal(err)
	}
	var err error
	if tab.WhatIf, err = b.Build(); err != nil {
		t.Fatal(err)
	}
	e.tables.Store(&tab)
	for _, c := range []struct{ client, tenant string }{{"127.0.0.2", "council-a"}, {"127.0.0.4", ""}} {
		if got := answerOf(exchangeFrom(t, c.client, "udp", e.addr, "www.example", false)); got != "NOERROR 192.0.2.1" {
			t.Errorf("www.example from %s: %q, want the answer (log-only blocks nothing)", c.client, got)
		}
	}
	e.blog.Close()
	got := map[string]bool{}
	for _, ev := range e.log.events(t) {
		got[fmt.Sprintf("%s %s %s %v", ev.Client, ev.List, ev.Tenant, ev.LogOnly)] = true
	}
	for _, want := range []string{"127.0.0.2 trial council-a true", "127.0.0.4 trial  true"} {
		if !got[want] {
			t.Errorf("block log lacks %q: %v", want, got)
		}
	}
}

// TestTenantsAndRPZAddressTriggers: address triggers apply to a tenant as
// name rules do — only its lists' rules, with its action overrides — on
// the fast path, from the cache and over TCP. Here phishing holds an
// rpz-client-ip rule for every test client (NODATA) and ads an rpz-ip rule
// for www.example's address.
func TestTenantsAndRPZAddressTriggers(t *testing.T) {
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, resolver.ListenConfig{})
	tab := tenantTable(t)
	tab.ClientIP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.MustParsePrefix("127.0.0.0/24"), Payload: blocklist.Payload{List: 0, Action: blocklist.ActionNoData}},
	})
	tab.IP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Payload: blocklist.Payload{List: 2, Action: blocklist.ActionNXDomain}},
	})
	e.tables.Store(tab)
	cases := []struct{ client, name, want string }{
		{"127.0.0.2", "www.example", "NOERROR 192.0.2.66"}, // council-a: its phishing client-ip rule, with its sinkhole override
		{"127.0.0.3", "www.example", "NXDOMAIN"},           // council-b: no phishing; its ads rpz-ip rule
		{"127.0.0.3", "ok.malware.example", "NOERROR 192.0.2.21"},
		{"127.0.0.4", "www.example", "NOERROR"}, // the default policy: the first list's client-ip rule
	}
	for _, netw := range []string{"udp", "udp", "tcp"} { // the second UDP round is answered from the cache
		for _, c := range cases {
			if got := answerOf(exchangeFrom(t, c.client, netw, e.addr, c.name, true)); got != c.want {
				t.Errorf("%s from %s (%s): got %q, want %q", c.name, c.client, netw, got, c.want)
			}
		}
	}
}
