package feeds

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/inteltest"
)

const (
	uuidA = "11111111-1111-4111-8111-111111111111"
	uuidB = "22222222-2222-4222-8222-222222222222"
	uuidC = "33333333-3333-4333-8333-333333333333"
	uuidD = "44444444-4444-4444-8444-444444444444"
)

func domainPattern(name string) string { return "[domain-name:value = '" + name + "']" }

// objectRequests are the GETs of the collection's objects, by query.
func objectRequests(srv *inteltest.TAXII) []string {
	var out []string
	for _, r := range srv.Requests() {
		if strings.Contains(r, "/objects/") {
			_, q, _ := strings.Cut(r, "?")
			out = append(out, q)
		}
	}
	return out
}

// TestTAXIIManager polls a TAXII 2.1 server through discovery, pages, and
// later polls only for what was added, with revocations and new versions
// applied, and an unchanged collection costing no parse.
func TestTAXIIManager(t *testing.T) {
	srv := inteltest.NewTAXII(t)
	srv.Username, srv.Password = "bulwark", "s3cret"
	srv.Add(
		inteltest.Indicator(uuidA, domainPattern("a.example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
		inteltest.Indicator(uuidB, "[url:value = 'http://b.example/x']", "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
		`{"type":"identity","spec_version":"2.1","id":"identity--`+uuidD+`","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","name":"ISAC"}`,
		inteltest.Indicator(uuidC, domainPattern("c.example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
	)
	t.Setenv("BULWARK_TAXII_PASSWORD", "s3cret")
	tm := newTestManager(t, func(o *Options) {
		o.Clock = clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
		o.Blocklists = []ListConfig{{Name: "isac", Format: FormatSTIX, Source: srv.URL + "/taxii2/",
			TAXII: &TAXIIConfig{Collection: srv.Title, Username: "bulwark", Password: "${BULWARK_TAXII_PASSWORD}", PageSize: 2}}}
	})
	tm.start(t)
	for name, want := range map[string]bool{"a.example": true, "www.a.example": true, "b.example": true, "www.b.example": false, "c.example": true} {
		if got := tm.blocked(name); got != want {
			t.Errorf("%s blocked = %v, want %v", name, got, want)
		}
	}
	got := objectRequests(srv)
	if want := []string{"limit=2", "limit=2&next=2"}; !slices.Equal(got, want) {
		t.Errorf("first poll = %q, want %q", got, want)
	}
	if r := srv.Requests(); !strings.HasPrefix(r[0], "GET /taxii2/") || !strings.HasPrefix(r[1], "GET /api1/collections/") {
		t.Errorf("discovery requests = %q", r[:2])
	}

	// A revocation of a, a new version of c, a new d.
	srv.Add(
		inteltest.Revoked(uuidA, domainPattern("a.example"), "2026-11-02T00:00:00.000Z"),
		inteltest.Indicator(uuidC, domainPattern("c2.example"), "2026-11-02T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
		inteltest.Indicator(uuidD, domainPattern("d.example"), "2026-11-02T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
	)
	if err := tm.RefreshNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a.example": false, "b.example": true, "c.example": false, "c2.example": true, "d.example": true} {
		if got := tm.blocked(name); got != want {
			t.Errorf("after update: %s blocked = %v, want %v", name, got, want)
		}
	}
	got = objectRequests(srv)[2:]
	if want := []string{"added_after=2026-11-01T00%3A00%3A00.004Z&limit=2", "added_after=2026-11-01T00%3A00%3A00.004Z&limit=2&next=2"}; !slices.Equal(got, want) {
		t.Errorf("second poll = %q, want %q", got, want)
	}
	rep := tm.Reports()[0]
	if rep.SkippedBy[ReasonRevoked] != 1 || rep.Entries != 3 {
		t.Errorf("report: entries %d skipped %v", rep.Entries, rep.SkippedBy)
	}

	// Nothing new: unchanged, nothing parsed.
	if err := tm.RefreshNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := tm.metric(t, "bulwark_feed_fetches_total", "feed", "isac", "result", "unchanged"); n != 1 {
		t.Errorf("unchanged fetches = %v, want 1", n)
	}
	if got := objectRequests(srv)[4:]; !slices.Equal(got, []string{"added_after=2026-11-01T00%3A00%3A00.007Z&limit=2"}) {
		t.Errorf("third poll = %q", got)
	}

	// explain names the indicator.
	m := tm.Rules().Matching("d.example")
	if len(m) != 1 || m[0].Indicator != "indicator--"+uuidD || m[0].List != "isac" {
		t.Errorf("explain d.example = %+v", m)
	}
}

// taxiiSourceFor builds the source of one TAXII list, as NewManager would.
func taxiiSourceFor(t *testing.T, lc ListConfig) *taxiiSource {
	t.Helper()
	cfg := Config{}
	cfg.SetDefaults()
	specs, _, err := buildSpecs(&cfg, []ListConfig{lc}, nil, specEnv{client: &http.Client{}, userAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return specs[0].src.(*taxiiSource)
}

func readBody(t *testing.T, r *Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestTAXIISourceFaults: authentication failures, a busy server's
// Retry-After, paging without next tokens, a collection URL as source,
// bearer tokens and a missing collection.
func TestTAXIISourceFaults(t *testing.T) {
	srv := inteltest.NewTAXII(t)
	srv.Token = "tok-123"
	for i, u := range []string{uuidA, uuidB, uuidC} {
		srv.Add(inteltest.Indicator(u, domainPattern(string(rune('a'+i))+".example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""))
	}
	list := func(edit func(*ListConfig)) ListConfig {
		lc := ListConfig{Name: "x", Format: FormatSTIX, Source: srv.CollectionURL(), TAXII: &TAXIIConfig{Token: "tok-123"}}
		if edit != nil {
			edit(&lc)
		}
		return lc
	}
	ctx := t.Context()

	t.Run("wrong token", func(t *testing.T) {
		s := taxiiSourceFor(t, list(func(lc *ListConfig) { lc.TAXII.Token = "nope" }))
		_, err := s.Fetch(ctx, Validators{})
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("basic instead of bearer", func(t *testing.T) {
		s := taxiiSourceFor(t, list(func(lc *ListConfig) { lc.TAXII = &TAXIIConfig{Username: "u", Password: "p"} }))
		if _, err := s.Fetch(ctx, Validators{}); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("retry after", func(t *testing.T) {
		s := taxiiSourceFor(t, list(nil))
		var mu sync.Mutex
		var waits []time.Duration
		s.cl.sleep = func(_ context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		}
		srv.Busy(2, "7")
		r, err := s.Fetch(ctx, Validators{})
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, r); strings.Count(body, `"type":"indicator"`) != 3 {
			t.Errorf("body = %s", body)
		}
		if !slices.Equal(waits, []time.Duration{7 * time.Second, 7 * time.Second}) {
			t.Errorf("waited %v, want the server's Retry-After twice", waits)
		}
		srv.Busy(maxBusyRetries+1, "1")
		if _, err := s.Fetch(ctx, Validators{}); err == nil || !strings.Contains(err.Error(), "429") {
			t.Errorf("a server that stays busy: err = %v", err)
		}
		srv.Busy(1, "3600")
		if _, err := s.Fetch(ctx, Validators{}); err == nil || !strings.Contains(err.Error(), "longer than") {
			t.Errorf("Retry-After an hour: err = %v", err)
		}
		srv.Busy(0, "")
	})
	t.Run("paging without next", func(t *testing.T) {
		srv.NoNext()
		s := taxiiSourceFor(t, list(func(lc *ListConfig) { lc.TAXII.PageSize = 1 }))
		before := len(objectRequests(srv))
		r, err := s.Fetch(ctx, Validators{})
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, r); strings.Count(body, `"type":"indicator"`) != 3 {
			t.Errorf("body = %s", body)
		}
		got := objectRequests(srv)[before:]
		want := []string{"limit=1", "added_after=2026-11-01T00%3A00%3A00.001Z&limit=1", "added_after=2026-11-01T00%3A00%3A00.002Z&limit=1"}
		if !slices.Equal(got, want) {
			t.Errorf("pages = %q, want %q", got, want)
		}
		// The caller holds that bundle and nothing was added: NotModified.
		r2, err := s.Fetch(ctx, r.Validators)
		if err != nil || !r2.NotModified {
			t.Errorf("second fetch: %+v %v", r2, err)
		}
		// A caller without it (a restart, a refused copy) gets it all.
		r3, err := s.Fetch(ctx, Validators{ETag: "other"})
		if err != nil || r3.NotModified || strings.Count(readBody(t, r3), `"type":"indicator"`) != 3 {
			t.Errorf("fetch for another copy: %+v %v", r3, err)
		}
	})
	t.Run("missing collection", func(t *testing.T) {
		s := taxiiSourceFor(t, list(func(lc *ListConfig) {
			lc.Source, lc.TAXII.Collection = srv.URL+"/taxii2/", "Nonexistent"
		}))
		_, err := s.Fetch(ctx, Validators{})
		if err == nil || !strings.Contains(err.Error(), `"Nonexistent" not found`) || !strings.Contains(err.Error(), srv.Title) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("max size", func(t *testing.T) {
		s := taxiiSourceFor(t, list(func(lc *ListConfig) { lc.MaxSize = 200 }))
		if _, err := s.Fetch(ctx, Validators{}); err == nil || !strings.Contains(err.Error(), "max_size") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestTAXIIKeepsLastGood: a failing server leaves the served rules alone.
func TestTAXIIKeepsLastGood(t *testing.T) {
	srv := inteltest.NewTAXII(t)
	srv.Add(inteltest.Indicator(uuidA, domainPattern("a.example"), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""))
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{{Name: "isac", Format: FormatSTIX, Source: srv.CollectionURL(), TAXII: &TAXIIConfig{}}}
	})
	tm.start(t)
	srv.Token = "now-required"
	if err := tm.RefreshNow(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("refresh err = %v", err)
	}
	if !tm.blocked("a.example") {
		t.Error("a.example no longer blocked after a failed poll")
	}
}

// mispEventGets counts the event files downloaded from srv's feed.
func mispEventGets(srv *inteltest.MISP) int {
	n := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "GET /feed/") && !strings.HasSuffix(r, "manifest.json") {
			n++
		}
	}
	return n
}

// TestMISPFeedManager reads a MISP feed over HTTP: the manifest is asked
// conditionally, only new or changed events are downloaded, and events
// gone from the manifest drop out.
func TestMISPFeedManager(t *testing.T) {
	srv := inteltest.NewMISP(t, "key")
	const ev1, ev2 = "5f1c4a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	for _, f := range []string{"manifest.json", ev1 + ".json", ev2 + ".json"} {
		srv.SetFile(f, []byte(readFixture(t, "misp-feed/"+f)))
	}
	tm := newTestManager(t, func(o *Options) {
		zero := 0.0 // the feed shrinks on purpose below
		o.Blocklists = []ListConfig{{Name: "cert", Format: FormatMISP, Source: srv.URL + "/feed/", MinRatio: &zero,
			TagCategories: map[string]string{"phishing": "phishing", "malware": "malware"}}}
	})
	tm.start(t)
	for name, want := range map[string]bool{"secure-login-bank.example": true, "account-verify.example": true,
		"x.account-verify.example": false, "shared-host.example": false, "withdrawn.example": false,
		"deleted-object.example": false, "bank-support-chat.example": true, "c2-alpha.example": true, "beacon.c2-beta.example": true} {
		if got := tm.blocked(name); got != want {
			t.Errorf("%s blocked = %v, want %v", name, got, want)
		}
	}
	// Categories from tags: the attribute's tag, else the event's.
	cat := func(name string) string {
		tab := tm.Load()
		m, _ := tab.Set.Match(name)
		return tab.Categories[m.Payload.Category]
	}
	if cat("secure-login-bank.example") != "phishing" || cat("c2-alpha.example") != "malware" || cat("bank-support-chat.example") != "cert" {
		t.Errorf("categories: %q %q %q", cat("secure-login-bank.example"), cat("c2-alpha.example"), cat("bank-support-chat.example"))
	}
	eventGets := func() int { return mispEventGets(srv) }
	if n := eventGets(); n != 2 {
		t.Errorf("first fetch downloaded %d events, want 2", n)
	}
	// Unchanged manifest: a 304, nothing else.
	if err := tm.RefreshNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := eventGets(); n != 2 {
		t.Errorf("an unchanged feed downloaded events (%d)", n)
	}
	// Event 2 changes, event 1 goes away.
	ev2body := strings.Replace(readFixture(t, "misp-feed/"+ev2+".json"), "beacon.c2-beta.example", "beacon.c2-delta.example", 1)
	srv.SetFile(ev2+".json", []byte(ev2body))
	srv.SetFile("manifest.json", []byte(`{"`+ev2+`": {"info": "Loader C2 infrastructure", "timestamp": 1763900000}}`))
	if err := tm.RefreshNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := eventGets(); n != 3 {
		t.Errorf("after the change %d event downloads in all, want 3 (only the changed one)", n)
	}
	for name, want := range map[string]bool{"secure-login-bank.example": false, "beacon.c2-beta.example": false, "beacon.c2-delta.example": true, "c2-alpha.example": true} {
		if got := tm.blocked(name); got != want {
			t.Errorf("after the change: %s blocked = %v, want %v", name, got, want)
		}
	}
	m := tm.Rules().Matching("c2-alpha.example")
	if len(m) != 1 || m[0].Indicator != "MISP event "+ev2+" attribute 5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c" {
		t.Errorf("explain = %+v", m)
	}
}

// TestMISPFeedDirectory reads a feed from a local directory.
func TestMISPFeedDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"manifest.json", "5f1c4a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b.json", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d.json"} {
		writeFile(t, dir, f, readFixture(t, "misp-feed/"+f))
	}
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{{Name: "cert", Format: FormatMISP, Source: "file:" + dir + "/"}}
	})
	tm.start(t)
	if !tm.blocked("c2-alpha.example") || !tm.blocked("secure-login-bank.example") {
		t.Error("feed directory not served")
	}
}

// TestMISPAPIManager asks restSearch with the key and window, and keeps
// the last good copy when the key is refused.
func TestMISPAPIManager(t *testing.T) {
	srv := inteltest.NewMISP(t, "misp-key-1")
	srv.SetAttributes(
		`{"id":"1","type":"domain","to_ids":true,"uuid":"8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f","timestamp":"1763900000","value":"invoice-portal.example","deleted":false,"Event":{"uuid":"9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"},"Tag":[{"name":"fraud"}]}`,
		`{"id":"2","type":"ip-dst","to_ids":true,"uuid":"0e1f2a3b-4c5d-4e6f-9a7b-8c9d0e1f2a3b","timestamp":"1763900000","value":"198.51.100.1"}`,
		`{"id":"3","type":"hostname","to_ids":false,"uuid":"1f2a3b4c-5d6e-4f7a-8b8c-9d0e1f2a3b4c","timestamp":"1763900000","value":"context.example"}`,
	)
	t.Setenv("BULWARK_MISP_KEY", "misp-key-1")
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{{Name: "misp", Format: FormatMISP, Source: srv.URL,
			MISP: &MISPConfig{API: true, Key: "${BULWARK_MISP_KEY}", Last: "30d", Tags: []string{"fraud"}}}}
	})
	tm.start(t)
	if !tm.blocked("invoice-portal.example") || tm.blocked("context.example") {
		t.Error("restSearch attributes not served as expected")
	}
	q := srv.Searches()[0]
	if q["last"] != "30d" || q["to_ids"] != true || q["returnFormat"] != "json" || len(q["type"].([]any)) != 4 {
		t.Errorf("restSearch query = %v", q)
	}
	// Same answer: unchanged.
	if err := tm.RefreshNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := tm.metric(t, "bulwark_feed_fetches_total", "feed", "misp", "result", "unchanged"); n != 1 {
		t.Errorf("unchanged fetches = %v", n)
	}
	t.Setenv("BULWARK_MISP_KEY", "revoked-key")
	if err := tm.RefreshNow(t.Context()); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("refused key: err = %v", err)
	}
	if !tm.blocked("invoice-portal.example") {
		t.Error("a refused key emptied the list")
	}
}
