package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// names returns n distinct names, one per line.
func names(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "host-%d.max.example\n", i)
	}
	return sb.String()
}

// TestMaxEntries: a list with more entries than its max_entries (the
// list's own, else feeds.max_entries) is refused as a whole, with an error
// naming the key; at the limit it loads.
func TestMaxEntries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "l.txt", names(11))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(names(11)))
	zw.Close()
	writeFile(t, dir, "l.txt.gz", gz.String())
	for _, tc := range []struct {
		name        string
		feeds, list int
		file        string
		wantErr     bool
		wantEntries int
	}{
		{"default limit", 0, 0, "l.txt", false, 11},
		{"feeds limit above", 11, 0, "l.txt", false, 11},
		{"feeds limit below", 10, 0, "l.txt", true, 0},
		{"list limit wins over feeds", 10, 11, "l.txt", false, 11},
		{"list limit below", 0, 5, "l.txt", true, 0},
		{"gzip over the limit", 0, 10, "l.txt.gz", true, 0},
	} {
		l := Loader{BaseDir: dir, Feeds: Config{MaxEntries: tc.feeds}}
		tab, reps, err := l.Load(context.Background(), []ListConfig{{Name: "l", Source: "file:" + tc.file, MaxEntries: tc.list}}, nil)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "max_entries") {
				t.Errorf("%s: err = %v, want one naming max_entries", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if reps[0].Entries != tc.wantEntries || tab.Lists[0].Entries != tc.wantEntries {
			t.Errorf("%s: %d entries, want %d", tc.name, reps[0].Entries, tc.wantEntries)
		}
	}
}

// TestMaxEntriesKeepsLastGoodCopy: a refresh that balloons past
// max_entries fails like any broken copy: the last good one serves on.
func TestMaxEntriesKeepsLastGoodCopy(t *testing.T) {
	path := writeTemp(t, names(5))
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{{Name: "local", Source: "file:" + path, MaxEntries: 8}}
	})
	tm.start(t)
	if !tm.blocked("host-4.max.example") {
		t.Fatal("the first copy is not served")
	}
	write(t, path, names(9))
	if err := tm.RefreshNow(context.Background()); err == nil || !strings.Contains(err.Error(), "max_entries") {
		t.Errorf("refresh of a copy past max_entries: %v, want an error naming max_entries", err)
	}
	if !tm.blocked("host-4.max.example") || tm.blocked("host-8.max.example") {
		t.Error("the last good copy was not kept")
	}
}

// parseBytesPerName bounds what parsing a list allocates per name, in all
// (500 measured for TestParseMemoryFollowsTheResult's names).
const parseBytesPerName = 600

// TestParseMemoryFollowsTheResult: parsing a list allocates in proportion
// to the names it reads, a bounded number of bytes a name however the
// builder grows, and keeps only the compiled set: a small fraction of
// that. The bound is on bytes allocated (deterministic), not time.
func TestParseMemoryFollowsTheResult(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~100 MB")
	}
	const n = 300_000
	input := names(n)
	sp := &feedSpec{info: blocklist.ListInfo{Name: "l"}, cfg: ListConfig{Format: FormatDomains}, maxSize: 1 << 30}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := parseCopy(context.Background(), sp, strings.NewReader(input), "test", slog.New(slog.DiscardHandler))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	result := c.set.SizeBytes()
	alloc := after.TotalAlloc - before.TotalAlloc
	// The builder's tables (grown by doubling: a strings.Reader gives no
	// size hint), the compile's scratch, each name once as the parser's
	// string, and the public-suffix check's garbage (trust.go).
	if limit := uint64(parseBytesPerName * n); alloc > limit {
		t.Errorf("parsing %d names (%d bytes of result) allocated %d bytes, more than %d", n, result, alloc, limit)
	}
	if kept := result / n; kept > 16 {
		t.Errorf("the compiled set of %d names takes %d bytes a name, want at most 16", n, kept)
	}
	t.Logf("%d names: result %d bytes, allocated %d (%.1fx)", n, result, alloc, float64(alloc)/float64(result))
}
