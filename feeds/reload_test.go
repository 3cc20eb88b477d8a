package feeds

import (
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// TestManagerPreviousAdoptsUnchangedLists: a Manager built with Previous
// (a config reload) takes over the copies of lists whose configuration did
// not change — no download, no parse — and loads the new and changed ones;
// it records nothing into metrics until SetMetrics, which then exports its
// state; Forget drops a removed list's series.
func TestManagerPreviousAdoptsUnchangedLists(t *testing.T) {
	kept := newFeedServer(t, "kept.example\n")
	changed := newFeedServer(t, "changed.example\n")
	removed := newFeedServer(t, "removed.example\n")
	dir := t.TempDir()
	local := writeFile(t, dir, "local.txt", "local.example\n")
	bundled := &countingFS{fs: fstest.MapFS{"b.txt": {Data: []byte("bundled.example\n")}}}
	old := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{
			{Name: "kept", Source: kept.URL},
			{Name: "changed", Source: changed.URL},
			{Name: "removed", Source: removed.URL},
			{Name: "local", Source: "file:" + local},
			{Name: "bundled", Source: "builtin:b.txt"},
		}
		o.Builtin = bundled
	})
	old.start(t)
	hits := func() []int32 { return []int32{kept.hits.Load(), changed.hits.Load(), removed.hits.Load()} }
	before := hits()

	// The new configuration: a list added in front (every index moves),
	// "changed" with a new action, "removed" gone.
	added := newFeedServer(t, "added.example\n")
	cfg := Config{Timeout: old.cfg.Timeout} // the same effective settings
	next, err := NewManager(Options{
		Config: cfg,
		Blocklists: []ListConfig{
			{Name: "added", Source: added.URL},
			{Name: "kept", Source: kept.URL},
			{Name: "changed", Source: changed.URL, Action: "refused"},
			{Name: "local", Source: "file:" + local},
			{Name: "bundled", Source: "builtin:b.txt"},
		},
		Builtin:  bundled,
		Previous: old.Manager,
		Version:  "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Close)
	tm := &testManager{Manager: next}
	tm.start(t)
	after := hits()
	if after[0] != before[0] {
		t.Errorf("the unchanged list was fetched again: %d requests, had %d", after[0], before[0])
	}
	if after[1] == before[1] {
		t.Error("the changed list was not fetched")
	}
	if after[2] != before[2] {
		t.Error("the removed list was fetched")
	}
	if n := bundled.opens.Load(); n != 1 {
		t.Errorf("the builtin list was read %d times, want once", n)
	}
	tab := next.Load()
	for _, c := range []struct {
		name   string
		list   string
		action blocklist.Action
	}{
		{"added.example", "added", blocklist.ActionNXDomain},
		{"www.kept.example", "kept", blocklist.ActionNXDomain},
		{"changed.example", "changed", blocklist.ActionRefused},
		{"local.example", "local", blocklist.ActionNXDomain},
		{"bundled.example", "bundled", blocklist.ActionNXDomain},
	} {
		m, ok := tab.Set.Match(c.name)
		if !ok || m.Allow || tab.Lists[m.Payload.List].Name != c.list || m.Payload.Action != c.action {
			t.Errorf("%s: %+v %v, want list %s action %s", c.name, m, ok, c.list, c.action)
		}
	}
	if tm.blocked("removed.example") {
		t.Error("the removed list is still served")
	}

	// Metrics: untouched by the staged Manager, then exported.
	if v := old.metric(t, "bulwark_feed_entries", "feed", "added"); v != 0 {
		t.Errorf("the staged Manager recorded metrics: entries{added} = %v", v)
	}
	old.Close()
	reg := prometheus.NewRegistry()
	met := NewMetrics(reg)
	met.declare("removed")
	met.loaded.WithLabelValues("removed").Set(1)
	next.SetMetrics(met)
	met.Forget("removed")
	probe := &testManager{reg: reg}
	for _, name := range []string{"added", "kept", "changed", "local", "bundled"} {
		if v := probe.metric(t, "bulwark_feed_loaded", "feed", name); v != 1 {
			t.Errorf("bulwark_feed_loaded{%s} = %v after SetMetrics", name, v)
		}
	}
	if v := probe.metric(t, "bulwark_blocklist_entries"); v != 5 {
		t.Errorf("bulwark_blocklist_entries = %v, want 5", v)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "feed" && lp.GetValue() == "removed" {
					t.Errorf("%s still has a series for the removed list", mf.GetName())
				}
			}
		}
	}
	if !slices.Equal(next.Names(), []string{"added", "kept", "changed", "local", "bundled"}) {
		t.Errorf("Names = %v", next.Names())
	}
	for _, r := range next.Reports() {
		if r.LastSuccess.IsZero() {
			t.Errorf("list %s: no last success after the reload", r.List)
		}
	}
}

// countingFS counts the files opened in it.
type countingFS struct {
	fs    fs.FS
	opens atomic.Int32
}

func (c *countingFS) Open(name string) (fs.File, error) {
	c.opens.Add(1)
	return c.fs.Open(name)
}

// TestRulesMatching: explain sees every list's rule for a name, with its
// line, in the merged set's order, duplicates the set dropped included.
func TestRulesMatching(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.txt":     "# first list\nevil.example\nx.y.evil.example\n",
		"b.txt":     "other.example\nevil.example\n",
		"allow.txt": "good.evil.example\n",
		"zone.rpz":  rpzHead + "evil.example CNAME *.\n*.evil.example CNAME rpz-drop.\nsink.evil.example A 192.0.2.7\n",
	}
	for name, body := range files {
		writeFile(t, dir, name, body)
	}
	l := &Loader{BaseDir: dir}
	rules, reports, err := l.LoadRules(t.Context(), []ListConfig{
		{Name: "a", Source: "file:a.txt"},
		{Name: "b", Source: "file:b.txt", Action: "refused"},
		{Name: "rpz", Source: "file:zone.rpz"},
	}, []ListConfig{{Name: "allow", Source: "file:allow.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 4 || !reports[3].Allow || reports[0].Allow {
		t.Fatalf("reports %+v", reports)
	}
	render := func(ms []RuleMatch) []string {
		var out []string
		for _, m := range ms {
			s := m.List + ":" + m.Text() + ":" + m.Scope.String()
			if m.Allow {
				s += ":allow"
			} else {
				s += ":" + m.Action.String()
			}
			out = append(out, s+":"+strings.TrimPrefix(m.Source, "file:"+dir+"/")+":"+strconv.Itoa(m.Line))
		}
		return out
	}
	tests := []struct {
		name string
		want []string
	}{
		// At the name itself: the RPZ exact rule beats the subtree rules;
		// then list a's rule, then b's duplicate the set dropped.
		{"evil.example", []string{"rpz:evil.example:exact:nodata:zone.rpz:5", "a:evil.example:subtree:nxdomain:a.txt:2", "b:evil.example:subtree:refused:b.txt:2"}},
		// Below it: subtree and below rank equally, list order decides.
		{"www.evil.example", []string{"a:evil.example:subtree:nxdomain:a.txt:2", "b:evil.example:subtree:refused:b.txt:2", "rpz:*.evil.example:below:drop:zone.rpz:6"}},
		// The allow inside the block wins; the block rules follow.
		{"x.good.evil.example", []string{"allow:good.evil.example:subtree:allow:allow.txt:1", "a:evil.example:subtree:nxdomain:a.txt:2", "b:evil.example:subtree:refused:b.txt:2", "rpz:*.evil.example:below:drop:zone.rpz:6"}},
		{"y.evil.example", []string{"a:evil.example:subtree:nxdomain:a.txt:2", "b:evil.example:subtree:refused:b.txt:2", "rpz:*.evil.example:below:drop:zone.rpz:6"}},
		{"a.x.y.evil.example", []string{"a:x.y.evil.example:subtree:nxdomain:a.txt:3", "a:evil.example:subtree:nxdomain:a.txt:2", "b:evil.example:subtree:refused:b.txt:2", "rpz:*.evil.example:below:drop:zone.rpz:6"}},
		{"sink.evil.example", []string{"rpz:sink.evil.example:exact:sinkhole:zone.rpz:7", "a:evil.example:subtree:nxdomain:a.txt:2", "b:evil.example:subtree:refused:b.txt:2", "rpz:*.evil.example:below:drop:zone.rpz:6"}},
		{"example.org", nil},
	}
	for _, tt := range tests {
		got := render(rules.Matching(tt.name))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
		// The first rule is the set's own decision.
		m, ok := rules.Table().Set.Match(tt.name)
		if ms := rules.Matching(tt.name); ok != (len(ms) > 0) || ok && (ms[0].Allow != m.Allow || ms[0].Scope != m.Scope || ms[0].ListIndex != int(m.Payload.List)) {
			t.Errorf("%s: Matching's first rule %+v is not the set's decision %+v", tt.name, ms, m)
		}
	}
	sink := rules.Matching("sink.evil.example")[0]
	if len(sink.Addrs) != 1 || sink.Addrs[0].String() != "192.0.2.7" {
		t.Errorf("sinkhole rule addresses %v", sink.Addrs)
	}
}

func TestCanonicalQuery(t *testing.T) {
	for in, want := range map[string]string{"WWW.Example.COM.": "www.example.com", "bücher.example": "xn--bcher-kva.example", ".": "", "localhost": "localhost"} {
		if got, err := CanonicalQuery(in); err != nil || got != want {
			t.Errorf("CanonicalQuery(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a..b", "http://x.example/", "-x.example", strings.Repeat("a", 64) + ".example"} {
		if _, err := CanonicalQuery(bad); err == nil {
			t.Errorf("CanonicalQuery(%q) accepted", bad)
		}
	}
}
