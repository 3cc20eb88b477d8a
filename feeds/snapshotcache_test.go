package feeds

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/testfile"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// namesBody is a domains list of n names "<tag><i>.example".
func namesBody(tag string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s%d.example\n", tag, i)
	}
	return b.String()
}

// snapEnv is a file list with a cache dir, started once so that the
// cache holds its snapshot.
type snapEnv struct {
	dir, cache, list string
	mtime            time.Time
}

func newSnapEnv(t *testing.T, body string) *snapEnv {
	t.Helper()
	e := &snapEnv{dir: t.TempDir()}
	e.cache, e.list = filepath.Join(e.dir, "cache"), filepath.Join(e.dir, "list.txt")
	if err := os.WriteFile(e.list, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mtime = time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(e.list, e.mtime, e.mtime); err != nil {
		t.Fatal(err)
	}
	return e
}

// manager starts a Manager serving the env's list; edit adjusts it.
func (e *snapEnv) manager(t *testing.T, edit func(o *Options)) *testManager {
	t.Helper()
	tm := newTestManager(t, func(o *Options) {
		o.Config.CacheDir = e.cache
		o.Blocklists = []ListConfig{{Name: "l", Source: "file:" + e.list, Format: FormatDomains}}
		if edit != nil {
			edit(o)
		}
	})
	tm.start(t)
	return tm
}

// The compiled snapshot beside a list is used at the next start only for
// the very text and settings it was built from; any other — the text
// edited (even keeping its size and time), the settings or the build
// changed, the snapshot corrupt or truncated — and the list is parsed
// from its text again and served as that text says.
func TestSnapshotCache(t *testing.T) {
	const n = 300
	old := namesBody("old", n)
	flip := func(at func(size int64) int64) func(t *testing.T, e *snapEnv) {
		return func(t *testing.T, e *snapEnv) {
			p := filepath.Join(e.cache, "l.snap")
			b := testfile.Read(t, p)
			b[at(int64(len(b)))] ^= 0x40
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var moved string // the list's new path ("source moved")
	tests := []struct {
		name string
		// change is done between the two starts.
		change func(t *testing.T, e *snapEnv)
		// edit configures the second Manager.
		edit      func(o *Options)
		warm      bool   // the second start uses the snapshot
		reason    string // else: in the log line saying why not ("" : no such line)
		blocked   string // served by the second start
		unblocked string
		action    blocklist.Action
	}{
		{name: "unchanged", warm: true, blocked: "old7.example", unblocked: "new7.example"},
		{name: "text edited keeping size and time", change: func(t *testing.T, e *snapEnv) {
			write(t, e.list, namesBody("new", n)) // same length: "old" and "new"
			if err := os.Chtimes(e.list, e.mtime, e.mtime); err != nil {
				t.Fatal(err)
			}
		}, reason: "the list's text has another checksum", blocked: "new7.example", unblocked: "old7.example"},
		{name: "text edited", change: func(t *testing.T, e *snapEnv) {
			write(t, e.list, namesBody("fresh", n))
		}, reason: "the list's text changed (size or modification time)", blocked: "fresh7.example", unblocked: "old7.example"},
		{name: "settings changed", edit: func(o *Options) { o.Blocklists[0].Action = "refused" },
			reason: "the list's settings changed", blocked: "old7.example", action: blocklist.ActionRefused},
		{name: "action_override set", edit: func(o *Options) { o.Blocklists[0].ActionOverride = "refused" },
			reason: "the list's settings changed", blocked: "old7.example", action: blocklist.ActionRefused},
		{name: "max_entries set", edit: func(o *Options) { o.Blocklists[0].MaxEntries = 2 * n },
			reason: "the list's settings changed", blocked: "old7.example"},
		{name: "source moved, same text", change: func(t *testing.T, e *snapEnv) {
			moved = filepath.Join(e.dir, "moved.txt")
			write(t, moved, old)
			if err := os.Chtimes(moved, e.mtime, e.mtime); err != nil {
				t.Fatal(err)
			}
		}, edit: func(o *Options) { o.Blocklists[0].Source = "file:" + moved },
			reason: "the list's source changed", blocked: "old7.example"},
		{name: "another build", edit: func(o *Options) { o.Version = "other" },
			reason: "written by Bulwark test", blocked: "old7.example"},
		{name: "truncated", change: func(t *testing.T, e *snapEnv) {
			p := filepath.Join(e.cache, "l.snap")
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, reason: "truncated", blocked: "old7.example"},
		{name: "truncated header", change: func(t *testing.T, e *snapEnv) {
			if err := os.Truncate(filepath.Join(e.cache, "l.snap"), 20); err != nil {
				t.Fatal(err)
			}
		}, reason: "truncated header", blocked: "old7.example"},
		{name: "corrupt header", change: flip(func(int64) int64 { return 30 }),
			reason: "header checksum mismatch", blocked: "old7.example"},
		{name: "corrupt set", change: flip(func(size int64) int64 { return size - 40 }),
			reason: "unusable blocklist snapshot", blocked: "old7.example"},
		{name: "trailing bytes", change: func(t *testing.T, e *snapEnv) {
			f, err := os.OpenFile(filepath.Join(e.cache, "l.snap"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.WriteString("x")
			f.Close()
		}, reason: "trailing bytes after the set", blocked: "old7.example"},
		{name: "not a snapshot", change: func(t *testing.T, e *snapEnv) {
			write(t, filepath.Join(e.cache, "l.snap"), "hello, world, this is not a snapshot at all")
		}, reason: "bad magic", blocked: "old7.example"},
		{name: "format 1 (SHA-256 key)", change: func(t *testing.T, e *snapEnv) {
			rekeySnapshot(t, filepath.Join(e.cache, "l.snap"), func(k *snapKey) {
				k.Format, k.TextSum = 1, bodySum([]byte(old))
			})
		}, reason: "snapshot format 1, this build writes 2", blocked: "old7.example"},
		{name: "removed", change: func(t *testing.T, e *snapEnv) {
			if err := os.Remove(filepath.Join(e.cache, "l.snap")); err != nil {
				t.Fatal(err)
			}
		}, blocked: "old7.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSnapEnv(t, old)
			first := e.manager(t, nil)
			if strings.Contains(first.logs.String(), "feed loaded from snapshot") {
				t.Fatal("the first start used a snapshot")
			}
			first.Close()
			if _, err := os.Stat(filepath.Join(e.cache, "l.snap")); err != nil {
				t.Fatalf("no snapshot after the first start: %v", err)
			}
			if tt.change != nil {
				tt.change(t, e)
			}
			second := e.manager(t, tt.edit)
			logs := second.logs.String()
			if got := strings.Contains(logs, "feed loaded from snapshot"); got != tt.warm {
				t.Errorf("snapshot used: %v, want %v", got, tt.warm)
			}
			if tt.reason != "" && (!strings.Contains(logs, "feed snapshot not used") || !strings.Contains(logs, tt.reason)) {
				t.Errorf("no log line saying the snapshot was not used because %q", tt.reason)
			}
			if tt.reason == "" && strings.Contains(logs, "feed snapshot not used") {
				t.Error("a snapshot was reported unusable, want none")
			}
			m, ok := second.Load().Set.Match(tt.blocked)
			if !ok || m.Allow || m.Payload.Action != tt.action {
				t.Errorf("%s: %+v/%v, want blocked with %s", tt.blocked, m, ok, tt.action)
			}
			if tt.unblocked != "" && second.blocked(tt.unblocked) {
				t.Errorf("%s is blocked: a stale snapshot was served", tt.unblocked)
			}
			if r := second.Reports()[0]; r.Entries != n || r.Lines != n || r.Origin != OriginFile {
				t.Errorf("report %+v, want %d entries and lines from %s", r, n, OriginFile)
			}
			// explain reads the rule's line from the list itself.
			ms := second.Rules().Matching(tt.blocked)
			if len(ms) != 1 || ms[0].Line != 8 || ms[0].Name != tt.blocked {
				t.Errorf("Matching(%s) = %+v, want the rule on line 8", tt.blocked, ms)
			}
			second.Close()
			// A rejected snapshot was replaced by a good one.
			third := e.manager(t, tt.edit)
			if !strings.Contains(third.logs.String(), "feed loaded from snapshot") {
				t.Error("the start after a rebuild did not use the new snapshot")
			}
		})
	}
}

// rekeySnapshot rewrites the key in the header of the snapshot at p,
// with a valid header checksum, as another build would have written it.
func rekeySnapshot(t *testing.T, p string, edit func(*snapKey)) {
	t.Helper()
	b := testfile.Read(t, p)
	n := binary.LittleEndian.Uint32(b[len(snapMagic)+8:])
	var h snapHeader
	if err := json.Unmarshal(b[snapPreLen:snapPreLen+int(n)], &h); err != nil {
		t.Fatal(err)
	}
	edit(&h.Key)
	head, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), b[:snapPreLen]...)
	binary.LittleEndian.PutUint32(out[len(snapMagic)+8:], uint32(len(head)))
	out = append(out, head...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
	out = append(out, b[snapPreLen+int(n)+4:]...)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A list's snapshot is written after the table holding its copy is
// published, so neither the first start nor a refresh waits on the write,
// and Close waits for it. Cold start and refresh alike, for a file list
// and an HTTP one.
func TestSnapshotWrittenAfterPublish(t *testing.T) {
	tests := []struct {
		name string
		list func(e *snapEnv, srv *feedServer) ListConfig
	}{
		{"file", func(e *snapEnv, _ *feedServer) ListConfig {
			return ListConfig{Name: "l", Source: "file:" + e.list, Format: FormatDomains, Refresh: time.Hour}
		}},
		{"http", func(_ *snapEnv, srv *feedServer) ListConfig {
			return ListConfig{Name: "l", Source: srv.URL + "/list.txt", Format: FormatDomains, Refresh: time.Hour}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFeedServer(t, namesBody("old", 40))
			e := newSnapEnv(t, namesBody("old", 40))
			snap := filepath.Join(e.cache, "l.snap")
			var mu sync.Mutex
			var atPublish []bool // whether the snapshot existed, per publish
			var atWritten []bool // the same, per OnSnapshotsWritten
			tm := newTestManager(t, func(o *Options) {
				o.Config.CacheDir = e.cache
				o.Blocklists = []ListConfig{tt.list(e, srv)}
				o.OnPublish = func(*blocklist.Table) {
					_, err := os.Stat(snap)
					mu.Lock()
					atPublish = append(atPublish, err == nil)
					mu.Unlock()
				}
				o.OnSnapshotsWritten = func() {
					_, err := os.Stat(snap)
					mu.Lock()
					atWritten = append(atWritten, err == nil)
					mu.Unlock()
				}
			})
			tm.start(t)
			wait.For(t, "the first snapshot", func() bool { mu.Lock(); defer mu.Unlock(); return len(atWritten) == 1 })
			if err := os.Remove(snap); err != nil {
				t.Fatal(err)
			}
			write(t, e.list, namesBody("newer", 50))
			srv.set(namesBody("newer", 50), modeOK)
			if err := tm.RefreshNow(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !tm.blocked("newer3.example") {
				t.Fatal("the refresh did not publish the new text")
			}
			tm.Close()
			mu.Lock()
			got, written := slices.Clone(atPublish), slices.Clone(atWritten)
			mu.Unlock()
			if len(got) != 2 || got[0] || got[1] {
				t.Errorf("snapshot present at each publish: %v, want [false false] (written after the publish)", got)
			}
			if len(written) != 2 || !written[0] || !written[1] {
				t.Errorf("snapshot present at each OnSnapshotsWritten: %v, want [true true]", written)
			}
			if _, err := os.Stat(snap); err != nil {
				t.Fatalf("no snapshot after Close: %v", err)
			}
			next := e.manager(t, func(o *Options) { o.Blocklists = []ListConfig{tt.list(e, srv)} })
			if !strings.Contains(next.logs.String(), "feed loaded from snapshot") || !next.blocked("newer3.example") {
				t.Errorf("the next start did not use the refreshed snapshot:\n%s", next.logs.String())
			}
		})
	}
}

// A list changed while the server runs invalidates its snapshot: the
// refresh parses the new text and writes the snapshot of it, which the
// next start uses.
func TestSnapshotFollowsRefresh(t *testing.T) {
	e := newSnapEnv(t, namesBody("old", 50))
	tm := e.manager(t, nil)
	write(t, e.list, namesBody("newer", 60))
	if err := tm.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !tm.blocked("newer3.example") || tm.blocked("old3.example") {
		t.Fatal("the refresh did not publish the new text")
	}
	tm.Close()
	next := e.manager(t, nil)
	if !strings.Contains(next.logs.String(), "feed loaded from snapshot") {
		t.Error("the next start did not use the refreshed snapshot")
	}
	if !next.blocked("newer3.example") || next.blocked("old3.example") {
		t.Error("the snapshot is of the old text")
	}
}

// An HTTP list's snapshot sits beside its cached download and is loaded
// at start, before (and without) any download.
func TestSnapshotOfHTTPList(t *testing.T) {
	srv := newFeedServer(t, namesBody("net", 80))
	dir := t.TempDir()
	edit := func(o *Options) {
		o.Config.CacheDir = dir
		o.Config.Startup = StartupServeCached
		o.Blocklists = []ListConfig{{Name: "h", Source: srv.URL, Refresh: time.Hour}}
	}
	first := newTestManager(t, edit)
	first.start(t)
	wait.For(t, "the first download", func() bool { return first.blocked("net5.example") })
	first.Close()
	srv.set("", mode500) // a download now would fail
	second := newTestManager(t, edit)
	second.start(t)
	logs := second.logs.String()
	if !strings.Contains(logs, "feed loaded from snapshot") {
		t.Fatalf("the cached list's snapshot was not used:\n%s", logs)
	}
	if !second.blocked("net5.example") {
		t.Error("the snapshot's list is not served")
	}
	r := second.Reports()[0]
	if r.Origin != OriginCache || r.Entries != 80 {
		t.Errorf("report %+v, want 80 entries from the cache", r)
	}
	ms := second.Rules().Matching("net5.example")
	if len(ms) != 1 || ms[0].Line != 6 {
		t.Errorf("Matching = %+v, want the rule on line 6 of the cached download", ms)
	}
}
