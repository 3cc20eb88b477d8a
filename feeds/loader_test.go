package feeds

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "lists/malware.txt", "# malware\nevil.example\n*.wild.example\nEVIL.example.\nbad..example\nlocalhost\n")
	writeFile(t, dir, "lists/allow.txt", "good.evil.example\n")
	builtin := fstest.MapFS{
		"phish.hosts": {Data: []byte("127.0.0.1 localhost\n0.0.0.0 phish.example www.phish.example\n0.0.0.0 evil.example\n")},
	}
	var logs bytes.Buffer
	l := &Loader{BaseDir: dir, Builtin: builtin, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	blocks := []ListConfig{
		{Name: "malware", Source: "file:lists/malware.txt", Action: "refused", Category: "malware"},
		{Name: "phish", Source: "builtin:phish.hosts", Action: "sinkhole", Sinkhole: []string{"192.0.2.1", "::ffff:192.0.2.2"}},
		{Name: "more-malware", Source: "file:" + filepath.Join(dir, "lists/malware.txt"), Format: "domains", Category: "malware"},
	}
	allows := []ListConfig{{Name: "exceptions", Source: "file:lists/allow.txt"}}

	tab, reports, err := l.Load(context.Background(), blocks, allows)
	if err != nil {
		t.Fatal(err)
	}

	// Lists in config order, allow lists after block lists.
	var names []string
	for _, li := range tab.Lists {
		names = append(names, li.Name)
	}
	if want := []string{"malware", "phish", "more-malware", "exceptions"}; !slices.Equal(names, want) {
		t.Errorf("Lists = %q, want %q", names, want)
	}
	if want := []string{"malware", "phish", "exceptions"}; !slices.Equal(tab.Categories, want) {
		t.Errorf("Categories = %q, want %q", tab.Categories, want)
	}
	phish := tab.Lists[1]
	if phish.Action != blocklist.ActionSinkhole || phish.Allow || phish.Source != "builtin:phish.hosts" || phish.Entries != 3 ||
		!slices.Equal(phish.Sinkhole, []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}) {
		t.Errorf("phish ListInfo = %+v", phish)
	}
	if ex := tab.Lists[3]; !ex.Allow || ex.Entries != 1 {
		t.Errorf("exceptions ListInfo = %+v", ex)
	}

	matches := []struct {
		qname    string
		found    bool
		allow    bool
		list     uint16
		category uint16
		action   blocklist.Action
	}{
		{"evil.example", true, false, 0, 0, blocklist.ActionRefused}, // first list decides
		{"x.evil.example", true, false, 0, 0, blocklist.ActionRefused},
		{"good.evil.example", true, true, 3, 2, 0}, // more specific allow wins
		{"a.good.evil.example", true, true, 3, 2, 0},
		{"www.phish.example", true, false, 1, 1, blocklist.ActionSinkhole},
		{"wild.example", false, false, 0, 0, 0}, // *. does not cover the apex
		{"a.wild.example", true, false, 0, 0, blocklist.ActionRefused},
		{"localhost", false, false, 0, 0, 0},
		{"example", false, false, 0, 0, 0},
	}
	for _, m := range matches {
		got, ok := tab.Set.Match(m.qname)
		if ok != m.found {
			t.Errorf("Match(%q) found = %v, want %v", m.qname, ok, m.found)
			continue
		}
		if ok && (got.Allow != m.allow || got.Payload.List != m.list || got.Payload.Category != m.category ||
			(!m.allow && got.Payload.Action != m.action)) {
			t.Errorf("Match(%q) = %+v, want allow=%v list=%d category=%d action=%v", m.qname, got, m.allow, m.list, m.category, m.action)
		}
	}

	mal := reports[0]
	if mal.List != "malware" || mal.Format != FormatDomains || mal.Lines != 6 || mal.Entries != 3 ||
		mal.RejectedTotal() != 2 || mal.Rejected[ReasonEmptyLabel] != 1 || mal.Rejected[ReasonSingleLabel] != 1 || len(mal.Samples) != 2 {
		t.Errorf("malware report = %+v", mal)
	}
	want := `feed "malware": file:` + filepath.Join(dir, "lists/malware.txt") + `: line 5: invalid domain "bad..example": empty label`
	if got := mal.Samples[0].Error(); got != want {
		t.Errorf("sample = %s\nwant     %s", got, want)
	}
	if r := reports[1]; r.Format != FormatHosts || r.Entries != 3 || r.Skipped != 1 || r.RejectedTotal() != 0 || r.Rejected == nil {
		t.Errorf("phish report = %+v", r)
	}
	for _, s := range []string{`feed=malware`, `line=5`, `reason="empty label"`, `msg="feed loaded"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs.String())
		}
	}
}

func TestLoadSamples(t *testing.T) {
	var l Loader
	blocks := []ListConfig{{Name: "phishing", Source: "file:" + dataFile(t, "samples/phishing.hosts")}}
	tab, reports, err := l.Load(context.Background(), blocks, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 429 distinct names, 6 of them listed twice (Entries counts duplicates).
	r := reports[0]
	if r.Format != FormatHosts || r.Entries != 435 || r.Skipped != 8 || r.RejectedTotal() != 8 || len(r.Samples) != maxSamples {
		t.Errorf("report = %+v", r)
	}
	if tab.Lists[0].Entries != 435 {
		t.Errorf("Entries = %d", tab.Lists[0].Entries)
	}
}

// TestLoadRealPrecedence pins the precedence of docs/ARCHITECTURE.md on the real phishing
// block and allow lists, which overlap.
func TestLoadRealPrecedence(t *testing.T) {
	l := Loader{BaseDir: dataDir}
	dataFile(t, "phishing_domains.txt")
	blocks := []ListConfig{
		{Name: "phishing", Source: "file:phishing_domains.txt"},
		{Name: "ips", Source: "file:phishing_ips.txt"},
	}
	allows := []ListConfig{{Name: "allow", Source: "file:phishing_allowlist.txt"}}
	tab, reports, err := l.Load(context.Background(), blocks, allows)
	if err != nil {
		t.Fatal(err)
	}
	if r := reports[0]; r.Entries != 11071 || r.RejectedTotal() != 0 {
		t.Errorf("phishing report = %+v", r)
	}
	if r := reports[1]; r.Entries != 0 || r.Rejected[ReasonIPAddress] != 5 {
		t.Errorf("ips report = %+v", r)
	}
	tests := []struct {
		qname string
		allow bool
	}{
		{"usermd.net", false},
		{"myetherwallet.usermd.net", false},
		{"damii.usermd.net", true},  // allowlisted tenant under a blocked platform
		{"coinbased.xyz", true},     // in both lists: a tie goes to allow
		{"spi.club", true},          // ditto
		{"x.v2-uniswap.org", false}, // subtree of a block entry
	}
	for _, tt := range tests {
		m, ok := tab.Set.Match(tt.qname)
		if !ok || m.Allow != tt.allow {
			t.Errorf("Match(%q) = %+v, %v; want allow=%v", tt.qname, m, ok, tt.allow)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ok.txt", "a.example\n")
	tests := []struct {
		name   string
		loader Loader
		blocks []ListConfig
		want   []string // substrings of the error
	}{
		{"missing file", Loader{BaseDir: dir}, []ListConfig{{Name: "gone", Source: "file:lists/missing.txt"}},
			[]string{`feed "gone"`, "opening file:" + filepath.Join(dir, "lists/missing.txt"), "no such file or directory"}},
		{"directory", Loader{BaseDir: dir}, []ListConfig{{Name: "dir", Source: "file:."}},
			[]string{`feed "dir"`, "reading file:" + dir, "is a directory"}},
		{"missing builtin", Loader{Builtin: fstest.MapFS{}}, []ListConfig{{Name: "b", Source: "builtin:nope.txt"}},
			[]string{`feed "b"`, "opening builtin:nope.txt"}},
		{"no builtin fs", Loader{}, []ListConfig{{Name: "b", Source: "builtin:x.txt"}},
			[]string{`feed "b"`, "no builtin lists"}},
		{"invalid config", Loader{BaseDir: dir}, []ListConfig{{Name: "a", Source: "file:ok.txt", Action: "explode"}},
			[]string{"blocklists[0].action", `unknown action "explode"`}},
		{"second list fails", Loader{BaseDir: dir}, []ListConfig{{Name: "a", Source: "file:ok.txt"}, {Name: "b", Source: "file:no.txt"}},
			[]string{`feed "b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, reps, err := tt.loader.Load(context.Background(), tt.blocks, nil)
			if err == nil {
				t.Fatalf("no error; table %+v reports %+v", tab, reps)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	// Config errors keep their type, so cmd/bulwark can point at YAML lines.
	_, _, err := (&Loader{}).Load(context.Background(), []ListConfig{{Name: "a"}}, nil)
	if _, ok := cfgerr.Path(err); !ok {
		t.Errorf("config error %v does not carry a cfgerr path", err)
	}
}

func TestLoadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := Loader{Builtin: fstest.MapFS{"a.txt": {Data: []byte("a.example\n")}}}
	_, _, err := l.Load(ctx, []ListConfig{{Name: "a", Source: "builtin:a.txt"}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestLoadEmpty(t *testing.T) {
	tab, reports, err := (&Loader{}).Load(context.Background(), nil, nil)
	if err != nil || len(reports) != 0 || len(tab.Lists) != 0 {
		t.Fatalf("Load() = %+v, %v, %v", tab, reports, err)
	}
	if _, ok := tab.Set.Match("a.example"); ok {
		t.Error("empty table matched")
	}
}
