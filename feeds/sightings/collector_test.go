package sightings

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/inteltest"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

const (
	operator = "identity--0d4c1a2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
	tenantID = "identity--9f8e7d6c-5b4a-4938-8271-605f4e3d2c1b"
	indA     = "11111111-1111-4111-8111-111111111111"
	indB     = "22222222-2222-4222-8222-222222222222"
	indC     = "33333333-3333-4333-8333-333333333333"
	attrX    = "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f"
)

type fixture struct {
	taxii *inteltest.TAXII // the feed's server
	sink  *inteltest.TAXII // where sightings go
	misp  *inteltest.MISP
	lists *feeds.Manager
	reg   *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{taxii: inteltest.NewTAXII(t), sink: inteltest.NewTAXII(t), misp: inteltest.NewMISP(t, "k1"), reg: prometheus.NewRegistry()}
	f.sink.Username, f.sink.Password = "reporter", "pw"
	f.taxii.Add(
		inteltest.Indicator(indA, "[domain-name:value = 'a.example']", "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
		inteltest.Indicator(indB, "[domain-name:value = 'b.example' OR url:value = 'http://b2.example/x']", "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
		inteltest.Indicator(indC, "[domain-name:value = 'c.example']", "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""),
	)
	f.misp.SetAttributes(`{"type":"domain","to_ids":true,"uuid":"` + attrX + `","value":"x.example","Event":{"uuid":"9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"}}`)
	m, err := feeds.NewManager(feeds.Options{Blocklists: []feeds.ListConfig{
		{Name: "isac", Format: feeds.FormatSTIX, Source: f.taxii.CollectionURL(), TAXII: &feeds.TAXIIConfig{}},
		{Name: "misp", Format: feeds.FormatMISP, Source: f.misp.URL, MISP: &feeds.MISPConfig{API: true, Key: "k1", Sightings: true}},
		{Name: "plain", Source: "file:" + testfile.Write(t, t.TempDir(), "list.txt", "plain.example\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	f.lists = m
	return f
}

func (f *fixture) collector(t *testing.T, cfg Config, clk clock.Clock) *Collector {
	t.Helper()
	c, err := New(Options{Config: cfg, Lists: []feeds.ListConfig{
		{Name: "isac", Format: feeds.FormatSTIX}, {Name: "misp", Format: feeds.FormatMISP}, {Name: "plain"},
	}, Rules: f.lists, MISP: f.lists.MISPSightingTargets(), Clock: clk, Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), Metrics: NewMetrics(f.reg), Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(context.Context, time.Duration) error { return nil }
	c.Start(t.Context())
	t.Cleanup(c.Close)
	return c
}

// block feeds the collector the block decision the policy would make for
// name from client at at.
func (f *fixture) block(t *testing.T, c *Collector, name, client string, at time.Time) {
	t.Helper()
	tab := f.lists.Load()
	m, ok := tab.Set.Match(name)
	if !ok || m.Allow {
		t.Fatalf("%s is not blocked", name)
	}
	c.Blocked(query.BlockHit{At: at, Client: netip.MustParseAddr(client), Table: tab, Match: m, Name: name})
}

// TestSightingsToTAXII blocks some indicators, runs an interval, and
// compares what the TAXII server received: one sighting per indicator
// that blocked, with its count, first and last time, and identity; none
// for indicators that did not block or plain lists; MISP sightings for the
// MISP list; no client addresses.
func TestSightingsToTAXII(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	c := f.collector(t, Config{Identity: operator, Interval: time.Minute,
		Tenants: []TenantConfig{{Identity: tenantID, Clients: []string{"10.20.0.0/16"}}},
		TAXII:   &TAXIIConfig{Collection: f.sink.CollectionURL(), Username: "reporter", Password: "pw"}}, fake)

	t0 := start.Add(5 * time.Second)
	f.block(t, c, "a.example", "192.0.2.1", t0)
	f.block(t, c, "www.a.example", "192.0.2.2", t0.Add(time.Second))
	f.block(t, c, "a.example", "192.0.2.1", t0.Add(3*time.Second))
	f.block(t, c, "b2.example", "192.0.2.3", t0.Add(4*time.Second))
	f.block(t, c, "b.example", "10.20.1.1", t0.Add(5*time.Second)) // the tenant's client
	f.block(t, c, "x.example", "192.0.2.4", t0.Add(6*time.Second))
	f.block(t, c, "plain.example", "192.0.2.5", t0.Add(7*time.Second))

	fake.Advance(time.Minute) // the interval
	// Wait for the whole interval's report: both destinations, and the
	// TAXII send counted (after the server's answer).
	deadline := time.Now().Add(10 * time.Second)
	for (len(f.sink.Posted()) < 3 || len(f.misp.Sightings()) < 1 ||
		promtest.Value(t, f.reg, "bulwark_sightings_sent_total", "destination", "taxii") < 3) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var got []Sighting
	for _, raw := range f.sink.Posted() {
		var s Sighting
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if s.Type != "sighting" || s.SpecVersion != "2.1" || !strings.HasPrefix(s.ID, "sighting--") || s.CreatedByRef != operator || s.Created == "" {
			t.Errorf("not a STIX 2.1 sighting: %s", raw)
		}
		if strings.Contains(string(raw), "192.0.2.") || strings.Contains(string(raw), "10.20.") {
			t.Errorf("a client address left: %s", raw)
		}
		got = append(got, s)
	}
	type row struct {
		of          string
		count       int
		first, last string
		where       string
	}
	var rows []row
	for _, s := range got {
		rows = append(rows, row{s.SightingOfRef, s.Count, s.FirstSeen, s.LastSeen, strings.Join(s.WhereSightedRefs, ",")})
	}
	ts := func(d time.Duration) string { return t0.Add(d).UTC().Format(stixTime) }
	want := []row{
		{"indicator--" + indA, 3, ts(0), ts(3 * time.Second), operator},
		{"indicator--" + indB, 1, ts(4 * time.Second), ts(4 * time.Second), operator},
		{"indicator--" + indB, 1, ts(5 * time.Second), ts(5 * time.Second), tenantID},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("sightings:\n got %+v\nwant %+v", rows, want)
	}
	ms := f.misp.Sightings()
	if len(ms) != 1 || ms[0]["uuid"] != attrX || ms[0]["source"] != DefaultMISPSource || ms[0]["type"] != "0" ||
		int64(ms[0]["timestamp"].(float64)) != t0.Add(6*time.Second).Unix() {
		t.Errorf("MISP sightings = %v", ms)
	}
	if n := promtest.Value(t, f.reg, "bulwark_sightings_sent_total", "destination", "taxii"); n != 3 {
		t.Errorf("sent to taxii = %v", n)
	}
	if n := promtest.Value(t, f.reg, "bulwark_sightings_blocks_total"); n != 6 {
		t.Errorf("blocks counted = %v, want 6 (the plain list's is not)", n)
	}

	// The next interval reports only what blocked since.
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sink.Posted()); n != 3 {
		t.Errorf("an empty interval posted %d more", n-3)
	}
}

// TestSightingsRetryAndDir: a destination that refuses keeps its
// sightings (bounded) and delivers them once it works; a directory gets
// one bundle per report; include_clients adds the addresses.
func TestSightingsRetryAndDir(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.sink.Token = "right"
	c := f.collector(t, Config{Identity: operator, Interval: time.Hour, Dir: dir, IncludeClients: true, Retries: 2,
		TAXII: &TAXIIConfig{Collection: f.sink.CollectionURL(), Token: "wrong"}}, clock.NewFake(now))
	f.block(t, c, "a.example", "192.0.2.1", now)
	f.block(t, c, "c.example", "2001:db8::1", now)
	err := c.Flush(t.Context())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("flush err = %v", err)
	}
	if n := promtest.Value(t, f.reg, "bulwark_sightings_send_failures_total", "destination", "taxii"); n != 3 {
		t.Errorf("failed attempts = %v, want 3 (1 + 2 retries)", n)
	}
	if n := promtest.Value(t, f.reg, "bulwark_sightings_pending", "destination", "taxii"); n != 2 {
		t.Errorf("pending = %v, want 2", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sightings-*.json"))
	if len(files) != 1 {
		t.Fatalf("bundle files = %q", files)
	}
	b, _ := os.ReadFile(files[0])
	var bundle struct {
		Type    string     `json:"type"`
		Objects []Sighting `json:"objects"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil || bundle.Type != "bundle" || len(bundle.Objects) != 2 {
		t.Fatalf("bundle %s: %v", b, err)
	}
	if got := bundle.Objects[0].Clients; !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("clients = %q", got)
	}
	// The credentials are fixed: the pending sightings go with the next report.
	c.out[0].(*taxiiOut).auth = newTAXIIOut(TAXIIConfig{Collection: f.sink.CollectionURL(), Token: "right"}, "", nil).auth
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sink.Posted()); n != 2 {
		t.Errorf("posted after recovery = %d, want 2", n)
	}
}

// TestSightingsBounds: the per-interval indicator limit and the pending
// bound drop and count rather than grow.
func TestSightingsBounds(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.sink.Token = "right"
	c := f.collector(t, Config{Identity: operator, MaxIndicators: 1, MaxPending: 1, Retries: 1,
		TAXII: &TAXIIConfig{Collection: f.sink.CollectionURL(), Token: "wrong"}}, clock.NewFake(now))
	f.block(t, c, "a.example", "192.0.2.1", now)
	f.block(t, c, "c.example", "192.0.2.1", now)
	_ = c.Flush(t.Context())
	if n := promtest.Value(t, f.reg, "bulwark_sightings_dropped_total", "reason", dropLimit); n != 1 {
		t.Errorf("dropped by limit = %v", n)
	}
	f.block(t, c, "c.example", "192.0.2.1", now)
	_ = c.Flush(t.Context())
	if n := promtest.Value(t, f.reg, "bulwark_sightings_dropped_total", "reason", dropPending); n != 1 {
		t.Errorf("dropped pending = %v", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Dir: "/x"}, "sightings.identity: STIX sightings need"},
		{Config{Identity: "bob"}, "is not a STIX identity id"},
		{Config{Identity: operator, TAXII: &TAXIIConfig{Collection: "ftp://x/"}}, "sightings.taxii.collection"},
		{Config{Identity: operator, TAXII: &TAXIIConfig{Collection: "https://x/c/", Token: "t", Username: "u", Password: "p"}}, "either a bearer token"},
		{Config{Identity: operator, Tenants: []TenantConfig{{Identity: tenantID, Clients: []string{"10.0.0.0/33"}}}}, "sightings.tenants[0].clients[0]"},
		{Config{Identity: operator, Interval: time.Millisecond}, "sightings.interval"},
	}
	for _, tt := range tests {
		tt.cfg.SetDefaults()
		errs := tt.cfg.Validate("sightings")
		var all []string
		for _, e := range errs {
			all = append(all, e.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), tt.want) {
			t.Errorf("%+v: errors %q, want one with %q", tt.cfg, all, tt.want)
		}
	}
	ok := Config{Identity: operator, Dir: "/x"}
	ok.SetDefaults()
	if errs := ok.Validate("sightings"); len(errs) != 0 {
		t.Errorf("valid config: %v", errs)
	}
}

// tWriter sends the collector's log to the test's.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
