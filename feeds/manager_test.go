package feeds

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestManagerFormatsOverHTTP serves one list of each format over HTTP and
// checks that auto detection, the merged table and the request headers
// (User-Agent, configured secrets) are right, and that no secret is
// logged.
func TestManagerFormatsOverHTTP(t *testing.T) {
	domains := newFeedServer(t, "d1.example\n*.d2.example\n")
	hosts := newFeedServer(t, "127.0.0.1 localhost\n0.0.0.0 h1.example h2.example\n")
	adblock := newFeedServer(t, "[Adblock Plus 2.0]\n||a1.example^\n@@||ok.a1.example^\n##.ad\n")
	const rpzZone = "$TTL 300\n$ORIGIN rpz.example.\n@ SOA ns. admin. 1 2 3 4 5\nr1.example CNAME .\n*.r2.example CNAME *.\nr3.example A 192.0.2.53\nr3.example AAAA 2001:db8::53\nr4.example CNAME rpz-drop.\n"
	rpz := newFeedServer(t, rpzZone)
	rpzToken := newFeedServer(t, rpzZone) // its own server: its own request headers
	t.Setenv("BULWARK_TEST_KEY", "s3cr3t-env")
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte("s3cr3t-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{
			{Name: "domains", Source: domains.URL + "/list.txt?key=s3cr3t-query"},
			{Name: "hosts", Source: hosts.URL},
			{Name: "adblock", Source: adblock.URL, Action: "refused"},
			{Name: "rpz", Source: rpz.URL, Headers: map[string]string{"X-Api-Key": "${BULWARK_TEST_KEY}", "Authorization": "Bearer file:x"}},
			{Name: "rpz-token", Source: rpzToken.URL, Headers: map[string]string{"Authorization": "file:" + secretFile}},
		}
	})
	tm.start(t)

	tests := []struct {
		name   string
		block  bool
		action blocklist.Action
	}{
		{"d1.example", true, blocklist.ActionNXDomain},
		{"x.d1.example", true, blocklist.ActionNXDomain},
		{"d2.example", false, 0},
		{"x.d2.example", true, blocklist.ActionNXDomain},
		{"www.h2.example", true, blocklist.ActionNXDomain},
		{"localhost", false, 0},
		{"a1.example", true, blocklist.ActionRefused},
		{"ok.a1.example", false, 0},
		{"r1.example", true, blocklist.ActionNXDomain},
		{"x.r1.example", false, 0}, // RPZ: exact
		{"x.r2.example", true, blocklist.ActionNoData},
		{"r3.example", true, blocklist.ActionSinkhole},
		{"r4.example", true, blocklist.ActionDrop},
	}
	tab := tm.Load()
	for _, tt := range tests {
		m, ok := tab.Set.Match(tt.name)
		if got := ok && !m.Allow; got != tt.block || got && m.Payload.Action != tt.action {
			t.Errorf("%s: match %+v %v; want block=%v action=%v", tt.name, m, ok, tt.block, tt.action)
		}
	}
	m, _ := tab.Set.Match("r3.example")
	want := []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}
	if got := tab.SinkholeAddrs(m.Payload); !slices.Equal(got, want) {
		t.Errorf("r3 sinkhole = %v, want %v", got, want)
	}

	formats := map[string]string{}
	for _, r := range tm.Reports() {
		formats[r.List] = r.Format
		if r.Origin != OriginNetwork || r.LastError != "" {
			t.Errorf("report %+v", r)
		}
	}
	if want := map[string]string{"domains": FormatDomains, "hosts": FormatHosts, "adblock": FormatAdblock, "rpz": FormatRPZ, "rpz-token": FormatRPZ}; !mapsEqual(formats, want) {
		t.Errorf("formats = %v, want %v", formats, want)
	}

	h := rpz.lastHeaders()
	if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "Bulwark/test ") {
		t.Errorf("User-Agent = %q", ua)
	}
	if h.Get("Accept-Encoding") != "gzip" {
		t.Errorf("Accept-Encoding = %q", h.Get("Accept-Encoding"))
	}
	// A value that merely starts like a secret reference is sent as
	// written; "file:PATH" is replaced by the file's content, "${VAR}" by
	// the environment's.
	if got := h.Get("Authorization"); got != "Bearer file:x" {
		t.Errorf("rpz: Authorization = %q, want the literal value", got)
	}
	if got := h.Get("X-Api-Key"); got != "s3cr3t-env" {
		t.Errorf("rpz: X-Api-Key = %q, want the environment's value", got)
	}
	if got := rpzToken.lastHeaders().Get("Authorization"); got != "s3cr3t-file" {
		t.Errorf("rpz-token: Authorization = %q, want the file's content", got)
	}
	if tm.Ready() != nil {
		t.Errorf("Ready = %v", tm.Ready())
	}
	if v := tm.metric(t, "bulwark_feed_skipped_lines", "feed", "adblock", "reason", ReasonCosmetic); v != 1 {
		t.Errorf("skipped cosmetic = %v", v)
	}
	if v := tm.metric(t, "bulwark_feed_entries", "feed", "rpz"); v != 4 {
		t.Errorf("rpz entries = %v", v)
	}
	if v := tm.metric(t, "bulwark_blocklist_entries"); v == 0 {
		t.Error("bulwark_blocklist_entries is 0")
	}
	for _, secret := range []string{"s3cr3t-env", "s3cr3t-file", "s3cr3t-query"} {
		if strings.Contains(tm.logs.String(), secret) {
			t.Errorf("log shows the secret %q", secret)
		}
	}
	if !strings.Contains(tm.logs.String(), "key=REDACTED") {
		t.Error("log does not show the redacted URL")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestManagerHeaderErrors: a missing environment variable or secret file
// fails the download with a message naming it, never a value.
func TestManagerHeaderErrors(t *testing.T) {
	srv := newFeedServer(t, "a.example\n")
	tm := newTestManager(t, func(o *Options) {
		o.Config.Startup = StartupServeCached
		o.Blocklists = []ListConfig{
			{Name: "env", Source: srv.URL, Headers: map[string]string{"X-Key": "${BULWARK_TEST_UNSET_VAR}"}},
			{Name: "file", Source: srv.URL + "/2", Headers: map[string]string{"X-Key": "file:/nonexistent/bulwark-key"}},
		}
	})
	tm.start(t)
	err := tm.RefreshNow(context.Background())
	for _, want := range []string{`feed "env"`, "header X-Key: environment variable BULWARK_TEST_UNSET_VAR is not set",
		`feed "file"`, "header X-Key: reading the value from file: no such file or directory"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if srv.hits.Load() != 0 {
		t.Errorf("%d requests sent without their headers", srv.hits.Load())
	}
}

// TestManagerConditional: an unchanged feed costs a 304 and no rebuild; a
// changed one is downloaded and published.
func TestManagerConditional(t *testing.T) {
	srv := newFeedServer(t, "a.example\n")
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{{Name: "f", Source: srv.URL}}
	})
	tm.start(t)
	first := tm.Load()
	if err := tm.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tm.Load() != first {
		t.Error("an unchanged feed rebuilt the table")
	}
	if srv.full.Load() != 1 || srv.hits.Load() != 2 {
		t.Errorf("hits %d, full answers %d; want 2 and 1", srv.hits.Load(), srv.full.Load())
	}
	if tm.metric(t, "bulwark_feed_fetches_total", "feed", "f", "result", resultUnchanged) != 1 {
		t.Error("the 304 was not counted as unchanged")
	}
	srv.set("a.example\nb.example\n", modeOK)
	if err := tm.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tm.Load() == first || !tm.blocked("b.example") {
		t.Error("the changed feed was not published")
	}
	if v := tm.metric(t, "bulwark_feed_download_bytes", "feed", "f"); v != float64(len("a.example\nb.example\n")) {
		t.Errorf("download bytes = %v", v)
	}

	// Without an ETag, Last-Modified drives the condition.
	lm := newFeedServerOpts(t, "c.example\n", true, true)
	tm2 := newTestManager(t, func(o *Options) { o.Blocklists = []ListConfig{{Name: "lm", Source: lm.URL}} })
	tm2.start(t)
	if err := tm2.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lm.hits.Load() != 2 || tm2.metric(t, "bulwark_feed_fetches_total", "result", resultUnchanged) != 1 {
		t.Errorf("Last-Modified: hits %d", lm.hits.Load())
	}
}

// TestManagerGzip: gzip as a Content-Encoding and as a .gz file both load.
func TestManagerGzip(t *testing.T) {
	for _, mode := range []string{modeGzip, modeGzipFile} {
		t.Run(mode, func(t *testing.T) {
			srv := newFeedServer(t, "")
			srv.set("||z1.example^\n||z2.example^\n", mode)
			tm := newTestManager(t, func(o *Options) { o.Blocklists = []ListConfig{{Name: "z", Source: srv.URL}} })
			tm.start(t)
			if !tm.blocked("z2.example") || tm.Reports()[0].Format != FormatAdblock {
				t.Errorf("gzip list not loaded: %+v", tm.Reports()[0])
			}
		})
	}
}

// TestManagerKeepsLastGood: each way a refresh can go wrong keeps the
// list's last good copy in the served table, raises its error metric and
// leaves the disk cache alone.
func TestManagerKeepsLastGood(t *testing.T) {
	good := domainsBody("good", 100)
	tests := []struct {
		name     string
		body     string
		mode     string
		want     string // in the error
		rejected bool   // counted as rejected rather than failed
	}{
		{"http 500", good, mode500, "HTTP 500 Internal Server Error", false},
		{"slow body", good, modeSlow, "timeout 300ms", false},
		{"truncated body", good, modeTruncate, "unexpected EOF", false},
		{"oversized with length", domainsBody("big", 1000), modeOK, "more than max_size 4KiB", false},
		{"oversized chunked", domainsBody("big", 1000), modeChunked, "more than max_size 4KiB", false},
		{"gzip bomb", strings.Repeat("a.example\n", 2000), modeGzip, "more than max_size 4KiB", false},
		{"corrupt gzip", good, modeBadGzip, "gzip", false},
		{"html page", good, modeHTML, "got an HTML page", false},
		{"empty", "", modeOK, "the new copy has 0 entries", true},
		{"shrunk", domainsBody("good", 40), modeOK, "the new copy has 40 entries, fewer than min_ratio 0.5 of the last good copy's 100", true},
		{"all junk", strings.Repeat("not a domain\n", 100), modeOK, "the new copy has 0 entries", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFeedServer(t, good)
			dir := t.TempDir()
			// The list's timeout is the tests' wait.Bound; only the slow body's
			// refresh runs under 300 ms, so that the good downloads around it
			// (and the other cases' refreshes, which must fail their own way)
			// are not held to 300 ms on a loaded machine.
			tm := newTestManager(t, func(o *Options) {
				o.Config.CacheDir = dir
				o.Blocklists = []ListConfig{{Name: "f", Source: srv.URL, MaxSize: 4 << 10}}
			})
			tm.start(t)
			before := tm.Load()
			cached, err := os.ReadFile(filepath.Join(dir, "f.list"))
			if err != nil || string(cached) != good {
				t.Fatalf("cache after the first download: %v", err)
			}

			srv.set(tt.body, tt.mode)
			if tt.mode == modeSlow {
				tm.setTimeout("f", 300*time.Millisecond)
			}
			err = tm.RefreshNow(context.Background())
			tm.setTimeout("f", wait.Bound)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `feed "f"`) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if tm.Load() != before || !tm.blocked("good99.example") {
				t.Error("the last good copy is no longer served")
			}
			if tm.Ready() != nil {
				t.Errorf("a list with a good copy is not ready: %v", tm.Ready())
			}
			result := resultFailed
			if tt.rejected {
				result = resultRejected
			}
			if tm.metric(t, "bulwark_feed_errors_total", "feed", "f") != 1 ||
				tm.metric(t, "bulwark_feed_fetches_total", "feed", "f", "result", result) != 1 ||
				tm.metric(t, "bulwark_feed_last_attempt_success", "feed", "f") != 0 ||
				tm.metric(t, "bulwark_feed_entries", "feed", "f") != 100 {
				t.Error("metrics do not show the failure")
			}
			if r := tm.Reports()[0]; !strings.Contains(r.LastError, tt.want) || r.Entries != 100 {
				t.Errorf("report = %+v", r)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "f.list")); string(b) != good {
				t.Error("the cached copy was replaced")
			}
			// The snapshot is written after the publish, in the background:
			// wait for it, then nothing else may be left in the directory.
			wait.For(t, "the first copy's snapshot", func() bool {
				_, err := os.Stat(filepath.Join(dir, "f.snap"))
				return err == nil
			})
			if ents, _ := os.ReadDir(dir); len(ents) != 3 {
				t.Errorf("cache dir holds %d files, want f.list, f.json and f.snap", len(ents))
			}

			// Recovery: the next good download is published.
			srv.set(good+"new.example\n", modeOK)
			if err := tm.RefreshNow(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !tm.blocked("new.example") || tm.metric(t, "bulwark_feed_last_attempt_success", "feed", "f") != 1 {
				t.Error("recovery not published")
			}
		})
	}
}

// setTimeout sets list name's download timeout for its next attempts
// (under fetchMu: between attempts).
func (tm *testManager) setTimeout(name string, d time.Duration) {
	for _, f := range tm.feeds {
		if f.spec.info.Name == name {
			f.fetchMu.Lock()
			f.spec.timeout = d
			f.fetchMu.Unlock()
		}
	}
}

// TestManagerMinRatioZero accepts an emptied feed when told to.
func TestManagerMinRatioZero(t *testing.T) {
	srv := newFeedServer(t, "a.example\n")
	zero := 0.0
	tm := newTestManager(t, func(o *Options) {
		o.Config.MinRatio = &zero
		o.Blocklists = []ListConfig{{Name: "f", Source: srv.URL}}
	})
	tm.start(t)
	srv.set("", modeOK)
	if err := tm.RefreshNow(context.Background()); err != nil || tm.blocked("a.example") {
		t.Errorf("empty copy not accepted: %v", err)
	}
}

// TestManagerCacheAcrossRestart: a second Manager with the network gone
// serves the first one's cached copy at once, under both start-up
// policies, and says where it came from.
func TestManagerCacheAcrossRestart(t *testing.T) {
	srv := newFeedServer(t, "[Adblock Plus 2.0]\n||cached.example^\n")
	url := srv.URL + "/feed.txt"
	dir := t.TempDir()
	lists := []ListConfig{{Name: "remote", Source: url}}
	first := newTestManager(t, func(o *Options) { o.Config.CacheDir, o.Blocklists = dir, lists })
	first.start(t)
	first.Close()
	srv.Close() // the network is gone

	for _, policy := range []string{StartupWait, StartupServeCached} {
		t.Run(policy, func(t *testing.T) {
			// Two hours on, the cached copy is stale: the download is
			// tried, fails, and the cached copy serves.
			clk := clock.NewFake(time.Now().Add(2 * time.Hour))
			tm := newTestManager(t, func(o *Options) {
				o.Config.CacheDir, o.Config.Startup, o.Blocklists = dir, policy, lists
				o.Config.StartupTimeout, o.Clock = time.Minute, clk
			})
			start := time.Now()
			tm.start(t)
			if !tm.blocked("www.cached.example") {
				t.Fatal("cached copy not served")
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("start took %s", took)
			}
			r := tm.Reports()[0]
			if r.Origin != OriginCache || r.Format != FormatAdblock || tm.Ready() != nil {
				t.Errorf("report %+v, ready %v", r, tm.Ready())
			}
			if tm.metric(t, "bulwark_feed_loaded", "feed", "remote") != 1 || tm.metric(t, "bulwark_feed_last_success_timestamp_seconds", "feed", "remote") == 0 {
				t.Error("metrics do not show the cached copy")
			}
			wait.For(t, "the failed download", func() bool { return tm.metric(t, "bulwark_feed_errors_total", "feed", "remote") == 1 })
			if policy == StartupWait && !strings.Contains(tm.logs.String(), "feed refresh failed; keeping the last good copy") {
				t.Error("wait: Start did not try the network before serving the stale cache")
			}
			if !tm.blocked("www.cached.example") || tm.Ready() != nil {
				t.Error("the failed download lost the cached copy")
			}
		})
	}

	// Another source under the same name does not reuse the cache.
	tm := newTestManager(t, func(o *Options) {
		o.Config.CacheDir, o.Config.Startup = dir, StartupServeCached
		o.Blocklists = []ListConfig{{Name: "remote", Source: url + "?v=2"}}
	})
	tm.start(t)
	if tm.blocked("cached.example") || tm.Ready() == nil {
		t.Error("a cached copy of another URL was used")
	}
}

// TestManagerFreshCacheSkipsDownload: a cached copy younger than the
// refresh interval is served without asking the source.
func TestManagerFreshCacheSkipsDownload(t *testing.T) {
	srv := newFeedServer(t, "a.example\n")
	dir := t.TempDir()
	lists := []ListConfig{{Name: "f", Source: srv.URL}}
	first := newTestManager(t, func(o *Options) { o.Config.CacheDir, o.Blocklists = dir, lists })
	first.start(t)
	first.Close()
	tm := newTestManager(t, func(o *Options) { o.Config.CacheDir, o.Blocklists = dir, lists })
	tm.start(t)
	if srv.hits.Load() != 1 || !tm.blocked("a.example") {
		t.Errorf("hits = %d, want 1 (the restart used the fresh cache)", srv.hits.Load())
	}
}

// TestManagerStartupNoCopy: with no cache and no network, "wait" fails
// after startup_timeout naming the list and its error, and "serve-cached"
// starts at once with the list missing from /readyz, then loads it when
// the feed returns.
func TestManagerStartupNoCopy(t *testing.T) {
	srv := newFeedServer(t, "late.example\n")
	srv.set("", mode500)
	lists := []ListConfig{{Name: "late", Source: srv.URL}, {Name: "local", Source: "file:" + writeTemp(t, "local.example\n")}}

	// startup_timeout runs on the Manager's clock: the first attempt's
	// error is in hand before it passes however slow the machine (a real
	// 300 ms once ended the wait before the HTTP 500 came back), and it
	// is shorter than the first retry (DefaultRetry less its jitter).
	const timeout = 10 * time.Second
	wclk := clock.NewFake(time.Unix(1_800_000_000, 0))
	waiting := newTestManager(t, func(o *Options) {
		o.Config.StartupTimeout, o.Clock, o.Blocklists = timeout, wclk, lists
	})
	var err error
	done := make(chan struct{})
	go func() { defer close(done); err = waiting.Start(context.Background()) }()
	t.Cleanup(func() { wclk.Advance(time.Hour); <-done }) // Start has returned before Close
	wait.For(t, "the first attempt's error", func() bool {
		r := waiting.Ready()
		return r != nil && strings.Contains(r.Error(), "HTTP 500")
	})
	select {
	case <-done:
		t.Fatalf("wait: Start returned before startup_timeout: %v", err)
	default:
	}
	wclk.Advance(timeout)
	wait.For(t, "Start to give up", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	for _, want := range []string{"feeds.startup_timeout 10s", "late", "HTTP 500"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("wait: error %v lacks %q", err, want)
		}
	}

	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	tm := newTestManager(t, func(o *Options) {
		o.Config.Startup, o.Clock, o.Blocklists = StartupServeCached, clk, lists
	})
	tm.start(t)
	if !tm.blocked("local.example") || tm.blocked("late.example") {
		t.Error("serve-cached: want the local list only")
	}
	if err := tm.Ready(); err == nil || !strings.Contains(err.Error(), "late") {
		t.Errorf("Ready = %v", err)
	}
	wait.For(t, "the first failed attempt", func() bool { return tm.metric(t, "bulwark_feed_errors_total", "feed", "late") >= 1 })
	srv.set("late.example\n", modeOK)
	clk.Advance(DefaultRetry * 2) // past the first backoff, jitter included
	wait.For(t, "the retry to publish the list", func() bool { return tm.blocked("late.example") })
	wait.For(t, "readiness", func() bool { return tm.Ready() == nil })
}

// TestManagerSchedule: refreshes follow the refresh interval by the
// injected clock, and failures back off.
func TestManagerSchedule(t *testing.T) {
	srv := newFeedServer(t, "a.example\n")
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	tm := newTestManager(t, func(o *Options) {
		o.Clock = clk
		o.Blocklists = []ListConfig{{Name: "f", Source: srv.URL, Refresh: time.Hour}}
	})
	tm.start(t)
	if srv.hits.Load() != 1 {
		t.Fatalf("hits = %d after start", srv.hits.Load())
	}
	clk.Advance(50 * time.Minute) // before the earliest jittered refresh (54m)
	time.Sleep(50 * time.Millisecond)
	if srv.hits.Load() != 1 {
		t.Errorf("refreshed early: hits = %d", srv.hits.Load())
	}
	clk.Advance(20 * time.Minute) // past the latest (66m)
	wait.For(t, "the hourly refresh", func() bool { return srv.hits.Load() == 2 })

	srv.set("", mode500)
	clk.Advance(70 * time.Minute)
	wait.For(t, "the failing refresh", func() bool { return srv.hits.Load() == 3 })
	wait.For(t, "the failure to be recorded", func() bool { return tm.metric(t, "bulwark_feed_errors_total", "feed", "f") == 1 })
	clk.Advance(40 * time.Second) // first retry: 30s ± 10%
	wait.For(t, "the first retry", func() bool { return srv.hits.Load() == 4 })
	wait.For(t, "the second failure", func() bool { return tm.metric(t, "bulwark_feed_errors_total", "feed", "f") == 2 })
	clk.Advance(40 * time.Second) // second retry is 60s ± 10%: not yet
	time.Sleep(50 * time.Millisecond)
	if srv.hits.Load() != 4 {
		t.Errorf("backoff did not grow: hits = %d", srv.hits.Load())
	}
	clk.Advance(40 * time.Second)
	wait.For(t, "the second retry", func() bool { return srv.hits.Load() == 5 })
	// The server counts the request before the manager has recorded the
	// attempt: wait for the record, which RefreshStale reads.
	wait.For(t, "the second retry to be recorded", func() bool { return tm.Reports()[0].LastAttempt.Equal(clk.Now()) })
	if !tm.blocked("a.example") {
		t.Error("the last good copy was lost while failing")
	}

	// RefreshStale (POST /reload) does not ask a feed asked within the
	// minute; RefreshAll (SIGHUP) asks at once, whatever the schedule.
	srv.set("a.example\nb.example\n", modeOK)
	hits := srv.hits.Load()
	tm.RefreshStale(time.Minute) // the last retry was just now
	time.Sleep(50 * time.Millisecond)
	if srv.hits.Load() != hits {
		t.Errorf("RefreshStale asked a feed asked just now: hits %d -> %d", hits, srv.hits.Load())
	}
	tm.RefreshAll()
	wait.For(t, "the forced refresh", func() bool { return tm.blocked("b.example") })
}

// TestManagerLocalFile: a local list is re-read when it changes, kept when
// it breaks, and re-read on RefreshAll even with an unchanged stamp.
func TestManagerLocalFile(t *testing.T) {
	path := writeTemp(t, "a.example\n")
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{{Name: "local", Source: "file:" + path}}
	})
	tm.start(t)
	if err := tm.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	write(t, path, "a.example\nb.example\n")
	if err := tm.RefreshNow(context.Background()); err != nil || !tm.blocked("b.example") {
		t.Fatalf("changed file not loaded: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := tm.RefreshNow(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no such file") || !tm.blocked("b.example") {
		t.Errorf("missing file: %v; the last good copy must stay", err)
	}
	// A missing local list at start-up is a configuration mistake.
	bad := newTestManager(t, func(o *Options) { o.Blocklists = []ListConfig{{Name: "gone", Source: "file:" + path}} })
	if err := bad.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `feed "gone"`) {
		t.Errorf("Start with a missing file: %v", err)
	}
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "list.txt", body)
}

// TestManagerValidation: NewManager refuses an invalid configuration.
func TestManagerValidation(t *testing.T) {
	_, err := NewManager(Options{Config: Config{Startup: "never"}, Blocklists: []ListConfig{{Name: "a"}}})
	for _, want := range []string{"feeds.startup", "blocklists[0].source"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestManagerCacheDirUnusable: a cache_dir that cannot be created fails
// Start with the key's name.
func TestManagerCacheDirUnusable(t *testing.T) {
	file := writeTemp(t, "")
	tm := newTestManager(t, func(o *Options) { o.Config.CacheDir = filepath.Join(file, "sub") })
	if err := tm.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "feeds.cache_dir") {
		t.Errorf("Start = %v", err)
	}
}
