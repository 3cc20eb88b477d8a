package resolver_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// addRPZTriggers gives the fast pair's table (newFastPairLogged) its RPZ
// triggers: client 127.0.0.66 is blocked by a client-ip rule of the last
// list, client 127.0.0.67 passed through by one of the first (so zone
// order lets it reach names the first list blocks), and answers into
// 198.51.100.0/24 (last list) and 203.0.113.0/24 (first list) are blocked
// by rpz-ip rules. garden.test's local data
// rewrites to walled.example.org.
func addRPZTriggers(tab *blocklist.Table) {
	last := uint16(len(tab.Lists) - 1)
	tab.ClientIP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.MustParsePrefix("127.0.0.66/32"), Payload: blocklist.Payload{List: last, Action: blocklist.ActionNXDomain}},
		{Prefix: netip.MustParsePrefix("127.0.0.67/32"), Allow: true, Payload: blocklist.Payload{List: 0}},
	})
	tab.IP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Payload: blocklist.Payload{List: last, Action: blocklist.ActionNXDomain}},
		{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Payload: blocklist.Payload{List: 0, Action: blocklist.ActionNXDomain}},
	})
	tab.Addrs = [][]netip.Addr{nil}
	tab.Local = [][]blocklist.LocalRR{{{Type: dns.TypeCNAME, Data: "walled.example.org."}}}
}

// TestRPZTriggersFastAndChain holds both paths to the RPZ order of the
// triggers, client by client (the fast path must answer exactly as the
// chain does, or decline).
func TestRPZTriggersFastAndChain(t *testing.T) {
	p := newFastPair(t)
	plain := netip.MustParseAddrPort("127.0.0.1:5353")
	blockedClient := netip.MustParseAddrPort("127.0.0.66:5353")
	passedClient := netip.MustParseAddrPort("127.0.0.67:5353")
	for _, tc := range []struct {
		client netip.AddrPort
		name   string
		rcode  int
		tc     bool
		answer string // the first answer record's type, "" for none
	}{
		{plain, "www.example.org.", dns.RcodeSuccess, false, "A"},
		{blockedClient, "www.example.org.", dns.RcodeNameError, false, ""},  // client-ip of the last list
		{blockedClient, "nodata.test.", dns.RcodeSuccess, false, ""},        // an earlier list's qname rule wins (NODATA)
		{blockedClient, "good.evil.example.", dns.RcodeSuccess, false, "A"}, // allowlists: decide for every client
		{passedClient, "x.evil.example.", dns.RcodeSuccess, false, "A"},     // client-ip passthru in the first list beats its qname rule
		{passedClient, "badip.example.org.", dns.RcodeSuccess, false, "A"},  // and the later list's rpz-ip
		{plain, "badip.example.org.", dns.RcodeNameError, false, ""},        // rpz-ip
		{plain, "badip0.example.org.", dns.RcodeNameError, false, ""},       // rpz-ip of the first list
		{plain, "badip0.good.evil.example.", dns.RcodeSuccess, false, "A"},  // an allowlisted name lifts rpz-ip too
		{plain, "tcponly.test.", dns.RcodeSuccess, true, ""},                // rpz-tcp-only over UDP
		{plain, "garden.test.", dns.RcodeSuccess, false, "CNAME"},           // the walled garden, with its chain
	} {
		m := new(dns.Msg)
		m.SetQuestion(tc.name, dns.TypeA)
		w, _ := m.Pack()
		// The miss (the cache's answer as it stores it) and the chain's
		// hit after it are both decided on.
		miss := p.plain.ServePacket(context.Background(), w, tc.client)
		chain := p.plain.ServePacket(context.Background(), w, tc.client)
		fast, _ := p.answeredFast(w, tc.client)
		if a, b := renderAnswer(t, chain), renderAnswer(t, fast); a != b {
			t.Errorf("%s %s: the paths differ\nchain:\n%s\nfast:\n%s", tc.client.Addr(), tc.name, a, b)
		}
		var r *dns.Msg
		for _, b := range [][]byte{miss, chain} {
			r = new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got := ""
			if len(r.Answer) > 0 {
				got = dns.TypeToString[r.Answer[0].Header().Rrtype]
			}
			if r.Rcode != tc.rcode || r.Truncated != tc.tc || got != tc.answer {
				t.Errorf("%s %s: rcode %s TC %v answer %q, want %s TC %v %q\n%v", tc.client.Addr(), tc.name, dns.RcodeToString[r.Rcode],
					r.Truncated, got, dns.RcodeToString[tc.rcode], tc.tc, tc.answer, r)
			}
		}
		if tc.name == "garden.test." && (len(r.Answer) != 3 || r.Answer[0].(*dns.CNAME).Target != "walled.example.org.") {
			t.Errorf("walled garden: %v, want the CNAME and the garden's two A records", r.Answer)
		}
	}
}

// TestRPZOverSockets: rpz-tcp-only truncates over UDP and resolves over
// TCP; a client-ip block is logged with its trigger and network.
func TestRPZOverSockets(t *testing.T) {
	tab := buildTable(t, list{info: blocklist.ListInfo{Name: "rpz", Action: blocklist.ActionTCPOnly}, names: []string{"tcponly.test"}})
	tab.ClientIP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.MustParsePrefix("127.0.0.0/24"), Payload: blocklist.Payload{List: 0, Action: blocklist.ActionNoData}},
	})
	e := startEnv(t, tab, envOpts{})
	if r := e.query(t, "udp", "www.example.org", dns.TypeA, true); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("client-ip nodata: %v", r)
	}

	tcp := buildTable(t, list{info: blocklist.ListInfo{Name: "rpz", Action: blocklist.ActionTCPOnly}, names: []string{"tcponly.test"}})
	e.tables.Store(tcp)
	if r := e.query(t, "udp", "tcponly.test", dns.TypeA, true); !r.Truncated || len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
		t.Errorf("tcp-only over UDP: %v", r)
	}
	if r := e.query(t, "tcp", "tcponly.test", dns.TypeA, true); r.Truncated || len(r.Answer) == 0 {
		t.Errorf("tcp-only over TCP: %v", r)
	}
	e.blog.Close()
	ev := e.log.events(t)
	if len(ev) != 2 || ev[0].Trigger != "rpz-client-ip" || ev[0].Rule != "127.0.0.0/24" || ev[0].Action != "nodata" ||
		ev[1].Action != "tcp-only" || ev[1].Protocol != "udp" || ev[1].Trigger != "" {
		t.Errorf("block log: %+v", ev)
	}
}

// withClientIPRules adds 10,000 rpz-client-ip networks, none holding the
// benchmark's client, to a bench table: the fast path's extra lookup.
func withClientIPRules(t *blocklist.Table) {
	var rules []blocklist.NetRule
	for i := range 10000 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		rules = append(rules, blocklist.NetRule{Prefix: p, Payload: blocklist.Payload{Action: blocklist.ActionNXDomain}})
	}
	t.ClientIP = blocklist.NewNetSet(rules)
}

// BenchmarkServePacketBlockedFastClientIP is BenchmarkServePacketBlockedFast
// with client-ip rules loaded; BenchmarkServePacketCachedFastClientIP the
// cache hit. Both must stay at 0 allocations.
func BenchmarkServePacketBlockedFastClientIP(b *testing.B) {
	benchPacket(b, benchServer(b, true, withClientIPRules), "x.evil.example.")
}

func BenchmarkServePacketCachedFastClientIP(b *testing.B) {
	benchPacket(b, benchServer(b, true, withClientIPRules), "www.example.org.")
}

// TestLogOnlyAddressTriggers: the rpz-client-ip and rpz-ip rules of a
// log-only list block nothing and are block-logged with log_only and
// their trigger.
func TestLogOnlyAddressTriggers(t *testing.T) {
	tab := buildTable(t, list{info: blocklist.ListInfo{Name: "trial", LogOnly: true}})
	e := startEnv(t, tab, envOpts{})
	first := e.query(t, "udp", "www.example.org", dns.TypeA, false)
	if len(first.Answer) == 0 {
		t.Fatalf("no answer to learn the upstream's address from: %v", first)
	}
	answered := addrOf(first.Answer[0])
	trial := *tab
	trial.WhatIfClientIP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Payload: blocklist.Payload{List: 0, Action: blocklist.ActionRefused}}})
	trial.WhatIfIP = blocklist.NewNetSet([]blocklist.NetRule{
		{Prefix: netip.PrefixFrom(answered, answered.BitLen()), Payload: blocklist.Payload{List: 0, Action: blocklist.ActionNXDomain}}})
	e.tables.Store(&trial)
	for _, proto := range []string{"udp", "tcp"} {
		if r := e.query(t, proto, "other.example.org", dns.TypeA, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s: a log-only list blocked: %v", proto, r)
		}
	}
	e.blog.Close()
	var got []string
	for _, ev := range e.log.events(t) {
		got = append(got, fmt.Sprintf("%s %s %s %v", ev.Trigger, ev.Rule, ev.Action, ev.LogOnly))
	}
	want := "rpz-client-ip 127.0.0.0/8 refused true|rpz-ip " + netip.PrefixFrom(answered, answered.BitLen()).String() + " nxdomain true"
	if strings.Join(got, "|") != want+"|"+want {
		t.Errorf("block log:\n got %q\nwant %q twice", got, want)
	}
	if n := metricValue(t, e.reg, "bulwark_log_only_matches_total", "list", "trial", "action", "refused"); n != 2 {
		t.Errorf("log-only client-ip matches = %v, want 2", n)
	}
}

// TestLocalDataCarriesEDE: a walled-garden answer says it is a block, as
// every other block answer does (EDE 15 naming the list), when the client
// speaks EDNS; without EDNS it has no OPT.
func TestLocalDataCarriesEDE(t *testing.T) {
	p := newFastPair(t)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	for _, edns := range []bool{true, false} {
		m := new(dns.Msg)
		m.SetQuestion("garden.test.", dns.TypeA)
		if edns {
			m.SetEdns0(1232, false)
		}
		w, _ := m.Pack()
		r := new(dns.Msg)
		if err := r.Unpack(p.plain.ServePacket(context.Background(), w, client)); err != nil {
			t.Fatal(err)
		}
		var ede *dns.EDNS0_EDE
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					ede = e
				}
			}
		}
		switch {
		case len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeCNAME:
			t.Errorf("EDNS %v: answer %v, want the garden's CNAME", edns, r.Answer)
		case edns && (ede == nil || ede.InfoCode != dns.ExtendedErrorCodeBlocked || ede.ExtraText != "blocked by list rpz-garden"):
			t.Errorf("EDNS: EDE %v, want 15 naming rpz-garden", ede)
		case !edns && r.IsEdns0() != nil:
			t.Errorf("no EDNS: the answer has an OPT %v", r.IsEdns0())
		}
	}
}
