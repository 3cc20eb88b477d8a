package feeds

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// TestLoadTriggers loads two RPZ zones with every trigger kind and local
// data, and checks what the merged table holds: the address triggers in
// zone order, the rule data in one index space across lists.
func TestLoadTriggers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "first.rpz", rpzHead+
		"a.example A 192.0.2.1\n"+
		"g.example CNAME garden.example.\n"+
		"24.0.2.0.192.rpz-client-ip CNAME rpz-passthru.\n"+
		"16.0.0.51.198.rpz-ip TXT \"first\"\n"+
		"ns.bad.rpz-nsdname CNAME .\n"+
		"32.9.9.9.9.rpz-nsip CNAME rpz-drop.\n")
	writeFile(t, dir, "second.rpz", rpzHead+
		"b.example A 192.0.2.2\n"+
		"t.example TXT \"second\"\n"+
		"8.0.0.0.192.rpz-client-ip CNAME .\n"+
		"24.0.100.51.198.rpz-ip CNAME rpz-tcp-only.\n"+
		"0.0.0.0.0.rpz-ip CNAME .\n") // every address: refused without allow_broad
	writeFile(t, dir, "trial.rpz", rpzHead+"32.7.7.7.7.rpz-client-ip CNAME .\n32.8.8.8.8.rpz-ip CNAME .\n")
	l := &Loader{BaseDir: dir, Logger: slog.New(slog.DiscardHandler)}
	tab, reports, err := l.Load(context.Background(), []ListConfig{
		{Name: "first", Source: "file:first.rpz", Format: "rpz"},
		{Name: "second", Source: "file:second.rpz", Format: "rpz"},
		{Name: "trial", Source: "file:trial.rpz", Format: "rpz", LogOnly: true},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reports[1].Rejected[ReasonBroadNet] != 1 || reports[0].Entries != 6 || reports[1].Entries != 4 {
		t.Errorf("reports: %+v / %+v", reports[0], reports[1])
	}
	for _, tc := range []struct {
		set    *blocklist.NetSet
		addr   string
		list   uint16
		allow  bool
		action blocklist.Action
	}{
		{tab.ClientIP, "192.0.2.9", 0, true, 0},                         // the first zone's passthru
		{tab.ClientIP, "192.1.0.1", 1, false, blocklist.ActionNXDomain}, // only the second zone has it
		{tab.IP, "198.51.100.1", 0, false, blocklist.ActionLocal},       // zone order over the longer /24
		{tab.NSIP, "9.9.9.9", 0, false, blocklist.ActionDrop},
	} {
		m, ok := tc.set.Match(netip.MustParseAddr(tc.addr), blocklist.NoList)
		if !ok || m.Payload.List != tc.list || m.Allow != tc.allow || !tc.allow && m.Payload.Action != tc.action {
			t.Errorf("%s: %+v %v, want list %d allow %v %v", tc.addr, m, ok, tc.list, tc.allow, tc.action)
		}
	}
	if m, ok := tab.IP.Match(netip.MustParseAddr("198.51.100.1"), blocklist.NoList); ok {
		if l := tab.LocalData(m.Payload); len(l) != 1 || l[0].Data != `"first"` {
			t.Errorf("rpz-ip local data = %+v", l)
		}
	}
	if m, ok := tab.NSDName.Match("ns.bad"); !ok || m.Payload.Action != blocklist.ActionNXDomain {
		t.Errorf("nsdname: %+v %v", m, ok)
	}
	// Name rules: each answers its own data, whichever list it is in.
	for _, tc := range []struct {
		name  string
		addrs []string
		local []blocklist.LocalRR
	}{
		{"a.example", []string{"192.0.2.1"}, nil},
		{"g.example", nil, []blocklist.LocalRR{{Type: dns.TypeCNAME, Data: "garden.example."}}},
		{"b.example", []string{"192.0.2.2"}, nil},
		{"t.example", nil, []blocklist.LocalRR{{Type: dns.TypeTXT, Data: `"second"`}}},
	} {
		m, ok := tab.Set.Match(tc.name)
		if !ok {
			t.Fatalf("%s: no rule", tc.name)
		}
		var addrs []string
		if m.Payload.Action == blocklist.ActionSinkhole {
			for _, a := range tab.SinkholeAddrs(m.Payload) {
				addrs = append(addrs, a.String())
			}
		}
		local := tab.LocalData(m.Payload)
		if len(addrs) != len(tc.addrs) || len(addrs) > 0 && addrs[0] != tc.addrs[0] || len(local) != len(tc.local) ||
			len(local) > 0 && local[0] != tc.local[0] {
			t.Errorf("%s: addrs %v local %+v, want %v %+v", tc.name, addrs, local, tc.addrs, tc.local)
		}
	}
	// A log-only list's address triggers are tried beside, never enforced.
	seven, eight := netip.MustParseAddr("7.7.7.7"), netip.MustParseAddr("8.8.8.8")
	if _, ok := tab.ClientIP.Match(seven, blocklist.NoList); ok {
		t.Error("a log-only client-ip rule is enforced")
	}
	if m, ok := tab.WhatIfClientIP.Match(seven, blocklist.NoList); !ok || m.Payload.List != 2 {
		t.Errorf("log-only client-ip: %+v %v", m, ok)
	}
	if _, ok := tab.WhatIfIP.Match(eight, blocklist.NoList); !ok {
		t.Error("log-only rpz-ip rule missing")
	}
	if _, ok := tab.IP.Match(eight, blocklist.NoList); ok {
		t.Error("a log-only rpz-ip rule is enforced")
	}
	if len(tab.Local) != len(tab.Addrs) {
		t.Errorf("Local (%d) is not parallel to Addrs (%d)", len(tab.Local), len(tab.Addrs))
	}
}
