package feeds

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/bindtest"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/internal/wait"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/clock"
)

const testZoneRecords = `bad.example CNAME .
*.bad.example CNAME .
ok.bad.example CNAME rpz-passthru.
sink.example A 192.0.2.7
drop.example CNAME rpz-drop.
`

// xfrManager builds a Manager with one axfr:// list from b.
type xfrEnv struct {
	m    *Manager
	logs *logBuffer
	reg  *prometheus.Registry
	met  *Metrics
}

func newXfrManager(t *testing.T, b *bindtest.Primary, cacheDir string, mod func(*ListConfig, *Options)) *xfrEnv {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	met := NewMetrics(reg)
	lc := ListConfig{Name: "rpz", Source: fmt.Sprintf("axfr://%s/%s", b.Addr(), strings.TrimSuffix(b.Zone, ".")),
		TSIG: tsigConfig(bindtest.KeySecret)}
	o := Options{Config: Config{CacheDir: cacheDir, Startup: StartupWait, StartupTimeout: wait.Bound},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Metrics: met}
	if mod != nil {
		mod(&lc, &o)
	}
	o.Blocklists = append([]ListConfig{lc}, o.Blocklists...)
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return &xfrEnv{m: m, logs: logs, reg: reg, met: met}
}

// decision says what the served table does with name: "block:ACTION",
// "allow" or "none".
func decision(m *Manager, name string) string {
	t := m.Load()
	if t == nil {
		return "no table"
	}
	mt, ok := t.Set.Match(name)
	switch {
	case !ok:
		return "none"
	case mt.Allow:
		return "allow"
	}
	return "block:" + mt.Payload.Action.String()
}

func (e *xfrEnv) source() *xfrSource { return e.m.feeds[0].spec.src.(*xfrSource) }

func checkDecisions(t *testing.T, m *Manager, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got := decision(m, name); got != w {
			t.Errorf("%s: %s, want %s", name, got, w)
		}
	}
}

// startPrimary starts a real primary for a test.
type startPrimary func(*testing.T, bindtest.Options) *bindtest.Primary

// TestXfrBIND is the life of a transfer feed against BIND: AXFR at start,
// IXFR after nsupdate (adds and deletes), a restart with the primary dead
// serving the saved zone, and an IXFR from the saved serial once it is back.
func TestXfrBIND(t *testing.T) { testXfrLife(t, bindtest.Start) }

// TestXfrKnot is the same life against Knot DNS (knotd) as the primary.
func TestXfrKnot(t *testing.T) { testXfrLife(t, bindtest.StartKnot) }

func testXfrLife(t *testing.T, start startPrimary) {
	b := start(t, bindtest.Options{Records: testZoneRecords})
	cache := t.TempDir()
	// A second list, after the zone, names some of the same names.
	other := writeFile(t, t.TempDir(), "other.txt", "new.example\nsink2.example\ndrop.example\n")
	var mu sync.Mutex
	var published []*blocklist.Table
	e := newXfrManager(t, b, cache, func(lc *ListConfig, o *Options) {
		o.Blocklists = append(o.Blocklists, ListConfig{Name: "other", Source: "file:" + other, Action: "refused"})
		o.OnPublish = func(t *blocklist.Table) { mu.Lock(); published = append(published, t); mu.Unlock() }
	})
	ctx := context.Background()
	if err := e.m.Start(ctx); err != nil {
		t.Fatalf("start: %v\n%s", err, e.logs)
	}
	checkDecisions(t, e.m, map[string]string{
		"bad.example": "block:nxdomain", "x.bad.example": "block:nxdomain", "ok.bad.example": "allow",
		"sink.example": "block:sinkhole", "drop.example": "block:drop", "new.example": "block:refused",
	})
	if got := e.source().lastXfr; got != "axfr" {
		t.Errorf("first transfer = %q, want axfr", got)
	}
	if n := promtest.Value(t, e.reg, "bulwark_feed_zone_serial", "feed", "rpz"); n != 1 {
		t.Errorf("serial metric = %v, want 1", n)
	}

	// nsupdate: one name added, one deleted; the refresh is an IXFR.
	b.Update("update add new.example.rpz.test. 60 CNAME .", "update delete drop.example.rpz.test. CNAME")
	b.Update("update add sink2.example.rpz.test. 60 A 192.0.2.8", "update add sink2.example.rpz.test. 60 AAAA 2001:db8::8")
	if err := e.m.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	// The IXFR was served through an overlay before the rebuild, deciding
	// every name as the rebuilt table does.
	mu.Lock()
	var overlay *blocklist.Table
	for _, p := range published {
		if p.Set.OverlayLen() > 0 {
			overlay = p
		}
	}
	final := published[len(published)-1]
	mu.Unlock()
	if overlay == nil {
		t.Fatalf("no overlay table was published\n%s", e.logs)
	}
	if final.Set.OverlayLen() != 0 {
		t.Error("the rebuild did not fold the overlay in")
	}
	for _, q := range []string{"new.example", "drop.example", "sink2.example", "bad.example", "x.bad.example", "ok.bad.example", "sink.example", "none.example"} {
		om, ook := overlay.Set.Match(q)
		fm, fok := final.Set.Match(q)
		if ook != fok || om.Allow != fm.Allow || om.Payload.List != fm.Payload.List || om.Payload.Action != fm.Payload.Action ||
			!slices.Equal(overlay.SinkholeAddrs(om.Payload), final.SinkholeAddrs(fm.Payload)) {
			t.Errorf("%s: overlay %+v %v (%v), rebuilt %+v %v (%v)", q, om, ook, overlay.SinkholeAddrs(om.Payload), fm, fok, final.SinkholeAddrs(fm.Payload))
		}
	}
	if got := e.source().lastXfr; got != "ixfr" {
		t.Errorf("transfer after nsupdate = %q, want ixfr\n%s", got, e.logs)
	}
	checkDecisions(t, e.m, map[string]string{"new.example": "block:nxdomain", "drop.example": "block:refused",
		"bad.example": "block:nxdomain", "sink2.example": "block:sinkhole"})
	// Nothing changed: an SOA query, no transfer.
	if err := e.m.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.source().lastXfr; got != "" {
		t.Errorf("transfer with no change = %q, want none", got)
	}
	if n := promtest.Value(t, e.reg, "bulwark_feed_zone_transfers_total", "feed", "rpz", "type", "ixfr"); n != 1 {
		t.Errorf("ixfr count = %v, want 1", n)
	}
	e.m.Close()

	// The primary dies; Bulwark restarts: the saved zone serves at once.
	b.Stop()
	e2 := newXfrManager(t, b, cache, func(lc *ListConfig, o *Options) {
		o.Blocklists = append(o.Blocklists, ListConfig{Name: "other", Source: "file:" + other, Action: "refused"})
	})
	if err := e2.m.Start(ctx); err != nil {
		t.Fatalf("restart with the primary down: %v\n%s", err, e2.logs)
	}
	checkDecisions(t, e2.m, map[string]string{"new.example": "block:nxdomain", "bad.example": "block:nxdomain", "drop.example": "block:refused"})
	if err := e2.m.RefreshNow(ctx); err == nil {
		t.Error("a refresh with the primary dead succeeded")
	}
	checkDecisions(t, e2.m, map[string]string{"new.example": "block:nxdomain"})
	if s, ok := e2.source().serial(); !ok || s != 3 {
		t.Errorf("serial after restart = %d %v, want 3 from the cache", s, ok)
	}
	e2.m.Close()
}

// TestXfrRestartIXFR restarts Bulwark against a live primary that moved
// on meanwhile: the first check is an IXFR from the saved serial.
func TestXfrRestartIXFR(t *testing.T) {
	b := bindtest.Start(t, bindtest.Options{Records: testZoneRecords})
	cache := t.TempDir()
	ctx := context.Background()
	e := newXfrManager(t, b, cache, nil)
	if err := e.m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.m.Close()
	b.Update("update add later.example.rpz.test. 60 CNAME *.")
	e2 := newXfrManager(t, b, cache, nil)
	if err := e2.m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Start serves the saved zone and checks in the background.
	if err := e2.m.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	checkDecisions(t, e2.m, map[string]string{"later.example": "block:nodata", "bad.example": "block:nxdomain"})
	if !strings.Contains(e2.logs.String(), "zone loaded from the cache") {
		t.Errorf("the restart did not start from the saved zone:\n%s", e2.logs)
	}
	if n := promtest.Value(t, e2.reg, "bulwark_feed_zone_transfers_total", "feed", "rpz", "type", "axfr"); n != 0 {
		t.Errorf("restart did %v AXFR, want an IXFR from the saved serial\n%s", n, e2.logs)
	}
	if n := promtest.Value(t, e2.reg, "bulwark_feed_zone_transfers_total", "feed", "rpz", "type", "ixfr"); n < 1 {
		t.Errorf("restart did no IXFR\n%s", e2.logs)
	}
}

// TestXfrWrongKey: a transfer signed with the wrong secret is refused by
// the primary (BIND, then Knot); the list gets no copy and the refusal is
// logged.
func TestXfrWrongKey(t *testing.T) {
	for name, start := range map[string]startPrimary{"named": bindtest.Start, "knotd": bindtest.StartKnot} {
		t.Run(name, func(t *testing.T) { testXfrWrongKey(t, start) })
	}
}

func testXfrWrongKey(t *testing.T, start startPrimary) {
	b := start(t, bindtest.Options{Records: testZoneRecords})
	e := newXfrManager(t, b, "", func(lc *ListConfig, o *Options) {
		lc.TSIG = tsigConfig(bindtest.WrongSecret)
		o.Config.StartupTimeout = 5 * time.Second
		o.Config.Startup = StartupServeCached
	})
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := e.m.RefreshNow(context.Background())
	if err == nil || !strings.Contains(err.Error(), "TSIG") {
		t.Fatalf("refresh with a wrong key: %v, want a TSIG error", err)
	}
	if decision(e.m, "bad.example") != "none" {
		t.Error("a zone transferred with a wrong key is served")
	}
	if logs := e.logs.String(); !strings.Contains(logs, "zone transfer failed") || !strings.Contains(logs, "TSIG") {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}
	if ready := e.m.Ready(); ready == nil || !strings.Contains(ready.Error(), "TSIG") {
		t.Errorf("Ready = %v, want the TSIG error", ready)
	}
	// Unsigned: refused by allow-transfer.
	e2 := newXfrManager(t, b, "", func(lc *ListConfig, o *Options) { lc.TSIG = nil; o.Config.Startup = StartupServeCached })
	if err := e2.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// named answers REFUSED (allow-transfer), knotd NOTAUTH (its ACL
	// names the key): either way nothing is transferred.
	if err := e2.m.RefreshNow(context.Background()); err == nil || !strings.Contains(err.Error(), "REFUSED") && !strings.Contains(err.Error(), "NOTAUTH") {
		t.Errorf("unsigned transfer: %v, want REFUSED or NOTAUTH", err)
	}
	if decision(e2.m, "bad.example") != "none" {
		t.Error("an unsigned transfer is served")
	}
}

// TestXfrExpire: with the primary gone past the SOA expire timer, keep
// (the default) goes on blocking and raises the alert metric; drop stops
// serving the zone.
func TestXfrExpire(t *testing.T) {
	for _, policy := range []string{"", OnExpireKeep, OnExpireDrop} {
		t.Run("on_expire="+policy, func(t *testing.T) {
			b := bindtest.Start(t, bindtest.Options{Records: testZoneRecords, Timers: "60 10 120"})
			fake := clock.NewFake(time.Now())
			e := newXfrManager(t, b, t.TempDir(), func(lc *ListConfig, o *Options) { lc.OnExpire = policy; o.Clock = fake })
			ctx := context.Background()
			if err := e.m.Start(ctx); err != nil {
				t.Fatal(err)
			}
			src := e.source()
			if d, ok := src.nextCheck(true); !ok || d < 54*time.Second || d > 66*time.Second {
				t.Errorf("next check after success = %v, want the SOA refresh 60s ±10%%", d)
			}
			b.Stop()
			fake.Advance(30 * time.Second)
			_ = e.m.RefreshNow(ctx)
			if d, ok := src.nextCheck(false); !ok || d != 10*time.Second {
				t.Errorf("next check after failure = %v, want the SOA retry 10s", d)
			}
			if n := promtest.Value(t, e.reg, "bulwark_feed_zone_expired", "feed", "rpz"); n != 0 {
				t.Errorf("expired before the expire timer: %v", n)
			}
			checkDecisions(t, e.m, map[string]string{"bad.example": "block:nxdomain"})
			fake.Advance(100 * time.Second) // 130s since the last confirmation > expire 120s
			_ = e.m.RefreshNow(ctx)
			if n := promtest.Value(t, e.reg, "bulwark_feed_zone_expired", "feed", "rpz"); n != 1 {
				t.Errorf("expired metric = %v, want 1", n)
			}
			if !strings.Contains(e.logs.String(), "zone expired") {
				t.Errorf("expiry not logged:\n%s", e.logs)
			}
			want := "block:nxdomain"
			if policy == OnExpireDrop {
				want = "none"
			}
			checkDecisions(t, e.m, map[string]string{"bad.example": want})
		})
	}
}

// TestXfrPrimaries: the first primary is down; the second serves.
func TestXfrPrimaries(t *testing.T) {
	b := bindtest.Start(t, bindtest.Options{Records: testZoneRecords})
	dead := dnstest.FreePort(t)
	e := newXfrManager(t, b, "", func(lc *ListConfig, o *Options) {
		lc.Source = fmt.Sprintf("axfr://127.0.0.1:%d/rpz.test", dead)
		lc.Primaries = []string{b.Addr().String()}
	})
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, e.logs)
	}
	checkDecisions(t, e.m, map[string]string{"bad.example": "block:nxdomain"})
	if !strings.Contains(e.logs.String(), fmt.Sprintf("127.0.0.1:%d", dead)) {
		t.Errorf("the dead primary's failure is not logged:\n%s", e.logs)
	}
}

// tsigConfig is the test primary's key as a list's tsig: key.
func tsigConfig(secret string) *TSIGConfig {
	return &TSIGConfig{Name: bindtest.KeyName, Algorithm: "hmac-sha256", Secret: secret}
}
