package feeds

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/inteltest"
)

// TestCompiledCopiesMerge: plain lists are kept compiled (and snapshotted),
// a threat-intelligence list keeps its rules with their objects, a
// log-only list goes to the table's WhatIf set, and the merged table,
// explain and a restart from the snapshots agree on every name.
func TestCompiledCopiesMerge(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	now := time.Now().UTC().Format(time.RFC3339)
	plain := write("plain.txt", "shared.example\nplain.example\n")
	bundle := write("bundle.json", `{"type":"bundle","id":"bundle--1","objects":[`+
		inteltest.Indicator(uuidA, domainPattern("shared.example"), now, "2020-01-01T00:00:00Z", "")+","+
		inteltest.Indicator(uuidB, domainPattern("intel-only.example"), now, "2020-01-01T00:00:00Z", "")+`]}`)
	watch := write("watch.txt", "watch.example\nplain.example\n")
	cache := filepath.Join(dir, "cache")
	var open, closed atomic.Int64 // BuildScope: every parse and merge in one, each closed
	edit := func(o *Options) {
		o.BuildScope = func() func() {
			open.Add(1)
			return func() { closed.Add(1) }
		}
		o.Config.CacheDir = cache
		o.Blocklists = []ListConfig{
			{Name: "plain", Source: "file:" + plain, Format: FormatDomains, Action: "refused"},
			{Name: "intel", Source: "file:" + bundle, Format: FormatSTIX},
			{Name: "watch", Source: "file:" + watch, Format: FormatDomains, LogOnly: true},
		}
	}
	type decision struct {
		blocked, whatIf bool
		list            uint16
	}
	want := map[string]decision{
		"shared.example":     {true, false, 0}, // the first list decides
		"plain.example":      {true, true, 0},
		"intel-only.example": {true, false, 1},
		"watch.example":      {false, true, 2},
		"other.example":      {},
	}
	check := func(tm *testManager, when string) {
		t.Helper()
		tab := tm.Load()
		for name, d := range want {
			m, ok := tab.Set.Match(name)
			_, wok := tab.WhatIf.Match(name)
			if (ok && !m.Allow) != d.blocked || wok != d.whatIf || (ok && m.Payload.List != d.list) {
				t.Errorf("%s: %s: match %+v %v, what-if %v; want %+v", when, name, m, ok, wok, d)
			}
		}
		ms := tm.Rules().Matching("shared.example")
		if len(ms) != 2 || ms[0].List != "plain" || ms[0].Line != 1 || ms[1].List != "intel" || ms[1].Indicator != "indicator--"+uuidA {
			t.Errorf("%s: explain shared.example: %+v", when, ms)
		}
		for i, e := range []int{2, 2, 2} {
			if got := tab.Lists[i].Entries; got != e {
				t.Errorf("%s: list %d has %d entries, want %d", when, i, got, e)
			}
		}
	}
	tm := newTestManager(t, edit)
	tm.start(t)
	check(tm, "cold")
	cs := tm.Rules().copies
	if cs[0].set == nil || cs[2].set == nil || cs[1].set != nil || len(cs[1].meta) != 2 {
		t.Errorf("copies: plain set %v, watch set %v, intel set %v with %d meta", cs[0].set != nil, cs[2].set != nil, cs[1].set != nil, len(cs[1].meta))
	}
	tm.Close() // waits for the snapshots, written after the first publish
	for list, snap := range map[string]bool{"plain": true, "watch": true, "intel": false} {
		if _, err := os.Stat(tm.cache.snapPath(list)); (err == nil) != snap {
			t.Errorf("snapshot of %s: %v, want one: %v", list, err, snap)
		}
	}
	// Three lists parsed, one merge at least.
	if o, c := open.Load(), closed.Load(); o < 4 || o != c {
		t.Errorf("build scopes: %d opened, %d closed; want at least 4, all closed", o, c)
	}

	warm := newTestManager(t, edit)
	warm.start(t)
	check(warm, "warm")
	if n := strings.Count(warm.logs.String(), "feed loaded from snapshot"); n != 2 {
		t.Errorf("%d lists loaded from their snapshot, want 2\n%s", n, warm.logs)
	}
}
