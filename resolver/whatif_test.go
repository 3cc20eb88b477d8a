package resolver_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// TestLogOnly: a log-only list blocks nothing, neither shadows an enforced
// list, and what it would have blocked is counted and block-logged with
// log_only set.
func TestLogOnly(t *testing.T) {
	tab := buildTable(t,
		list{info: blocklist.ListInfo{Name: "enforced", Action: blocklist.ActionNXDomain}, names: []string{"blocked.example"}},
		list{info: blocklist.ListInfo{Name: "trial", Action: blocklist.ActionRefused, LogOnly: true}})
	b := blocklist.NewBuilder()
	for _, n := range []string{"trial.example", "blocked.example"} {
		if err := b.Add(blocklist.Rule{Name: n, Payload: blocklist.Payload{List: 1, Category: 1, Action: blocklist.ActionRefused}}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if tab.WhatIf, err = b.Build(); err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, tab, envOpts{})
	tests := []struct {
		name      string
		rcode     int
		wantLists []string // block log events, in order; "trial?" is a log-only one
	}{
		{"www.trial.example", dns.RcodeSuccess, []string{"trial?"}},
		{"blocked.example", dns.RcodeNameError, []string{"trial?", "enforced"}},
		{"clean.example", dns.RcodeSuccess, nil},
	}
	seen := 0
	for _, tt := range tests {
		r := e.query(t, "udp", tt.name, dns.TypeA, false)
		if r.Rcode != tt.rcode {
			t.Errorf("%s: rcode %s, want %s", tt.name, dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
		}
		want := seen + len(tt.wantLists)
		deadline := time.Now().Add(5 * time.Second)
		var evs []string
		for {
			all := e.log.events(t)
			evs = nil
			for _, ev := range all[min(seen, len(all)):] {
				n := ev.List
				if ev.LogOnly {
					n += "?"
				}
				evs = append(evs, n)
			}
			if len(all) >= want || time.Now().After(deadline) {
				seen = len(all)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(evs) != len(tt.wantLists) || (len(evs) > 0 && (evs[0] != tt.wantLists[0] || evs[len(evs)-1] != tt.wantLists[len(tt.wantLists)-1])) {
			t.Errorf("%s: block log %q, want %q", tt.name, evs, tt.wantLists)
		}
	}
	if n := metricValue(t, e.reg, "bulwark_log_only_matches_total", "list", "trial", "action", "refused"); n != 2 {
		t.Errorf("log-only matches = %v, want 2", n)
	}
	if n := metricValue(t, e.reg, "bulwark_blocked_total", "list", "trial"); n != 0 {
		t.Errorf("the log-only list counted %v blocks", n)
	}
}
