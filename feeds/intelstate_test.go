package feeds

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/inteltest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// spoilState returns a test step that damages the state file (or, with
// ext, another of the list's cache files) of list in dir.
func spoilState(list, ext string, edit func(t *testing.T, b []byte) []byte) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, list+ext)
		b := testfile.Read(t, p)
		if err := os.WriteFile(p, edit(t, b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setStateKey sets one key of a state file.
func setStateKey(key string, v any) func(*testing.T, []byte) []byte {
	return func(t *testing.T, b []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m[key] = v
		out, _ := json.Marshal(m)
		return out
	}
}

// resumeRow is a case of the resume tests.
type resumeRow struct {
	name    string
	reload  bool                     // Options.Previous instead of a restart (TAXII)
	spoil   func(*testing.T, string) // damages the saved state in the cache directory
	resumed bool                     // the source takes its saved state back
}

// resumeRows are a plain restart, then the ways a saved state of list can
// be unusable; each of those must be ignored with a log line and cost a
// full poll, never a wrong copy.
func resumeRows(list string) []resumeRow {
	return []resumeRow{
		{name: "restart", resumed: true},
		{name: "truncated state", spoil: spoilState(list, cacheStateExt, func(_ *testing.T, b []byte) []byte { return b[:len(b)/2] })},
		{name: "state of another copy", spoil: spoilState(list, cacheStateExt, setStateKey("etag", "other"))},
		{name: "state of another source", spoil: spoilState(list, cacheStateExt, setStateKey("source_sha256", sourceHash("https://elsewhere.example/")))},
		{name: "state of another version", spoil: spoilState(list, cacheStateExt, setStateKey("version", 99))},
		{name: "cached copy changed under the state", spoil: spoilState(list, cacheBodyExt, func(_ *testing.T, b []byte) []byte { return append(b, '\n') })},
	}
}

// TestTAXIIResumes: after a restart with feeds.cache_dir, or a reload, the
// saved indicators serve at once and the next poll asks only for what was
// added since the last one; a saved state that cannot be trusted is
// ignored with a log line and the poll asks for everything.
func TestTAXIIResumes(t *testing.T) {
	tests := append(resumeRows("isac"), resumeRow{name: "reload", reload: true, resumed: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := inteltest.NewTAXII(t)
			srv.Add(
				inteltest.Indicator(uuidA, domainPattern("a.example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
				inteltest.Indicator(uuidB, domainPattern("b.example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
				inteltest.Indicator(uuidC, domainPattern("c.example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
			)
			dir := t.TempDir()
			edit := func(o *Options) {
				o.Blocklists = []ListConfig{{Name: "isac", Format: FormatSTIX, Source: srv.CollectionURL(), TAXII: &TAXIIConfig{PageSize: 2}}}
				if !tt.reload {
					o.Config.CacheDir = dir
				}
			}
			first := newTestManager(t, edit)
			first.start(t)
			if !tt.reload {
				first.Close()
			}
			if tt.spoil != nil {
				tt.spoil(t, dir)
			}
			srv.Add(inteltest.Indicator(uuidD, domainPattern("d.example"), "2026-11-02T00:00:00.000Z", "2026-11-01T00:00:00Z", ""))
			asked, served := len(objectRequests(srv)), srv.Served()

			second := newTestManager(t, func(o *Options) {
				edit(o)
				if tt.reload {
					o.Previous = first.Manager
				}
			})
			second.start(t)
			if !second.blocked("a.example") || second.blocked("d.example") {
				t.Fatal("the saved indicators are not what serves at start")
			}
			if n := len(objectRequests(srv)); n != asked {
				t.Fatalf("start polled the collection (%d requests) although the saved copy is fresh", n-asked)
			}
			if err := second.RefreshNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, sent := objectRequests(srv)[asked:], srv.Served()-served
			want, wantSent := []string{"limit=2", "limit=2&next=2"}, 4
			if tt.resumed {
				want, wantSent = []string{"added_after=2026-11-01T00%3A00%3A00.003Z&limit=2"}, 1
			}
			if !slices.Equal(got, want) || sent != wantSent {
				t.Errorf("poll after the restart = %q sending %d objects, want %q sending %d", got, sent, want, wantSent)
			}
			for _, name := range []string{"a.example", "b.example", "c.example", "d.example"} {
				if !second.blocked(name) {
					t.Errorf("%s not blocked after the poll", name)
				}
			}
			if logged := strings.Contains(second.logs.String(), "feed source state ignored"); logged == tt.resumed {
				t.Errorf("state ignored logged = %v, want %v", logged, !tt.resumed)
			}
			// The cursor saved by this poll is the one the next restart uses.
			if !tt.reload {
				second.Close()
				third := newTestManager(t, edit)
				third.start(t)
				asked = len(objectRequests(srv))
				if err := third.RefreshNow(t.Context()); err != nil {
					t.Fatal(err)
				}
				if got := objectRequests(srv)[asked:]; !slices.Equal(got, []string{"added_after=2026-11-01T00%3A00%3A00.004Z&limit=2"}) {
					t.Errorf("poll after a second restart = %q", got)
				}
				if n := third.metric(t, "bulwark_feed_fetches_total", "feed", "isac", "result", "unchanged"); n != 1 {
					t.Errorf("unchanged fetches after the second restart = %v, want 1", n)
				}
			}
		})
	}
}

// TestMISPFeedResumes: after a restart with feeds.cache_dir the manifest
// is asked conditionally with its saved validators and only changed events
// are downloaded; an untrusted state costs a download of every event.
func TestMISPFeedResumes(t *testing.T) {
	const ev1, ev2 = "5f1c4a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	tests := append(resumeRows("cert"), resumeRow{name: "event outside the cached copy", spoil: spoilState("cert", cacheStateExt,
		setStateKey("events", []map[string]any{{"uuid": ev1, "timestamp": "1", "offset": 1 << 30, "length": 10}}))})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := inteltest.NewMISP(t, "key")
			for _, f := range []string{"manifest.json", ev1 + ".json", ev2 + ".json"} {
				srv.SetFile(f, []byte(readFixture(t, "misp-feed/"+f)))
			}
			eventGets := func() int { return mispEventGets(srv) }
			dir := t.TempDir()
			edit := func(o *Options) {
				zero := 0.0
				o.Config.CacheDir = dir
				o.Blocklists = []ListConfig{{Name: "cert", Format: FormatMISP, Source: srv.URL + "/feed/", MinRatio: &zero}}
			}
			first := newTestManager(t, edit)
			first.start(t)
			first.Close()
			if tt.spoil != nil {
				tt.spoil(t, dir)
			}
			second := newTestManager(t, edit)
			second.start(t)
			if !second.blocked("c2-alpha.example") {
				t.Fatal("the saved events do not serve at start")
			}
			before := eventGets()
			if err := second.RefreshNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			unchanged := second.metric(t, "bulwark_feed_fetches_total", "feed", "cert", "result", "unchanged")
			if n := eventGets() - before; tt.resumed && (n != 0 || unchanged != 1) {
				t.Errorf("an unchanged feed after a restart: %d event downloads, %v unchanged fetches; want 0 and 1", n, unchanged)
			} else if !tt.resumed && n != 2 {
				t.Errorf("an untrusted state: %d event downloads, want 2", n)
			}
			if logged := strings.Contains(second.logs.String(), "feed source state ignored"); logged == tt.resumed {
				t.Errorf("state ignored logged = %v, want %v", logged, !tt.resumed)
			}
			if !tt.resumed {
				return
			}
			// One event changes: only it is downloaded, and the other
			// keeps serving from the saved copy.
			body := strings.Replace(readFixture(t, "misp-feed/"+ev2+".json"), "beacon.c2-beta.example", "beacon.c2-delta.example", 1)
			srv.SetFile(ev2+".json", []byte(body))
			man := strings.Replace(readFixture(t, "misp-feed/manifest.json"), "1763805600", "1763990000", 1)
			if man == readFixture(t, "misp-feed/manifest.json") {
				t.Fatal("fixture manifest has no timestamp 1763805600 to change")
			}
			srv.SetFile("manifest.json", []byte(man))
			before = eventGets()
			if err := second.RefreshNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := eventGets() - before; n != 1 {
				t.Errorf("one changed event after a restart: %d downloads, want 1", n)
			}
			for name, want := range map[string]bool{"beacon.c2-beta.example": false, "beacon.c2-delta.example": true, "secure-login-bank.example": true} {
				if got := second.blocked(name); got != want {
					t.Errorf("%s blocked = %v, want %v", name, got, want)
				}
			}
		})
	}
}
