package feeds

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/inteltest"
)

// TestMISPAPIResumes: a MISP restSearch list searches its whole window
// once, then only for the attributes changed since the newest it holds —
// across a restart too — merging deletions, to_ids changes and new
// attributes in; misp.full_refresh brings the whole window back, and an
// untrusted saved state costs a full search.
func TestMISPAPIResumes(t *testing.T) {
	attr := func(n int, value, ts string, toIDs, deleted bool) string {
		return fmt.Sprintf(`{"id":"%d","type":"domain","category":"Network activity","to_ids":%v,"uuid":"%08d-0000-4000-8000-000000000000","timestamp":"%s","value":"%s","deleted":%v,"Event":{"uuid":"9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"}}`,
			n, toIDs, n, ts, value, deleted)
	}
	for _, tt := range resumeRows("misp") {
		t.Run(tt.name, func(t *testing.T) {
			srv := inteltest.NewMISP(t, "k")
			srv.SetAttributes(attr(1, "keep.example", "1763900000", true, false), attr(2, "gone.example", "1763900000", true, false),
				attr(3, "demoted.example", "1763900000", true, false))
			dir := t.TempDir()
			fake := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			edit := func(o *Options) {
				o.Config.CacheDir, o.Clock = dir, fake
				o.Blocklists = []ListConfig{{Name: "misp", Format: FormatMISP, Source: srv.URL, Refresh: 1000 * time.Hour,
					MISP: &MISPConfig{API: true, Key: "k", Last: "30d", FullRefresh: 48 * time.Hour}}}
			}
			first := newTestManager(t, edit)
			first.start(t)
			first.Close()
			if tt.spoil != nil {
				tt.spoil(t, dir)
			}
			// 2 deleted, 3 no longer to_ids, 4 new, 1 unchanged.
			srv.SetAttributes(attr(1, "keep.example", "1763900000", true, false), attr(2, "gone.example", "1763950000", true, true),
				attr(3, "demoted.example", "1763950000", false, false), attr(4, "new.example", "1763960000", true, false))
			second := newTestManager(t, edit)
			second.start(t)
			if !second.blocked("gone.example") || len(srv.Searches()) != 1 {
				t.Fatalf("start: the saved attributes do not serve, or start searched (%d searches)", len(srv.Searches()))
			}
			if err := second.RefreshNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			q := srv.Searches()[1]
			if tt.resumed {
				if q["timestamp"] != float64(1763900000) || fmt.Sprint(q["deleted"]) != "[0 1]" || q["to_ids"] != nil || q["last"] != "30d" {
					t.Errorf("search after the restart = %v, want a change search since 1763900000", q)
				}
			} else if q["timestamp"] != nil || q["to_ids"] != true || q["deleted"] != false {
				t.Errorf("search after an untrusted state = %v, want the whole window", q)
			}
			for name, want := range map[string]bool{"keep.example": true, "gone.example": false, "demoted.example": false, "new.example": true} {
				if got := second.blocked(name); got != want {
					t.Errorf("%s blocked = %v, want %v", name, got, want)
				}
			}
			if logged := strings.Contains(second.logs.String(), "feed source state ignored"); logged == tt.resumed {
				t.Errorf("state ignored logged = %v, want %v", logged, !tt.resumed)
			}
			// Nothing changed: the next change search starts at the newest
			// attribute and the copy is unchanged.
			if err := second.RefreshNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			if q := srv.Searches()[2]; q["timestamp"] != float64(1763960000) {
				t.Errorf("second change search = %v, want timestamp 1763960000", q)
			}
			if n := second.metric(t, "bulwark_feed_fetches_total", "feed", "misp", "result", "unchanged"); n != 1 {
				t.Errorf("unchanged fetches = %v, want 1", n)
			}
			// full_refresh: the whole window again.
			fake.Advance(49 * time.Hour)
			if err := second.RefreshNow(t.Context()); err != nil {
				t.Fatal(err)
			}
			if q := srv.Searches()[3]; q["timestamp"] != nil || q["to_ids"] != true {
				t.Errorf("search after full_refresh = %v, want the whole window", q)
			}
			if !second.blocked("new.example") || second.blocked("gone.example") {
				t.Error("the full search changed what is blocked")
			}
		})
	}
}
