package feeds

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/inteltest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestIndicatorExpiresWithoutRefetch: an indicator whose valid_until is
// one second ahead stops blocking when the (injected) clock passes it,
// with no fetch of its list; one whose valid_from is ahead starts
// blocking then; the others keep blocking. The expiry also applies when
// the clock passes it between the start-up build and the validity
// watcher's first look: that watcher took the next change after its own
// reading of the clock and waited for later.example's, so under load the
// expiry was skipped ("timed out waiting for expiring.example stops
// blocking").
func TestIndicatorExpiresWithoutRefetch(t *testing.T) {
	tests := []struct {
		name string
		// advanceInBuild moves the clock past the expiry as the start-up
		// build publishes, before the watcher starts.
		advanceInBuild bool
	}{
		{"clock moves after start", false},
		{"clock moves during the start-up build", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testIndicatorExpires(t, tt.advanceInBuild) })
	}
}

func testIndicatorExpires(t *testing.T, advanceInBuild bool) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	fake := clock.NewFake(now)
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	bundle := `{"type":"bundle","id":"bundle--1","objects":[` +
		inteltest.Indicator(uuidA, domainPattern("expiring.example"), ts(now), ts(now.Add(-time.Hour)), ts(now.Add(time.Second))) + "," +
		inteltest.Indicator(uuidB, domainPattern("later.example"), ts(now), ts(now.Add(2*time.Second)), "") + "," +
		inteltest.Indicator(uuidC, domainPattern("steady.example"), ts(now), ts(now.Add(-time.Hour)), "") + `]}`
	path := writeFile(t, t.TempDir(), "bundle.json", bundle)
	var first atomic.Pointer[blocklist.Table] // the start-up build's table
	tm := newTestManager(t, func(o *Options) {
		o.Clock = fake
		o.Blocklists = []ListConfig{{Name: "intel", Format: FormatSTIX, Source: "file:" + path, Refresh: time.Hour}}
		o.OnPublish = func(t *blocklist.Table) {
			if first.CompareAndSwap(nil, t) && advanceInBuild {
				fake.Advance(1500 * time.Millisecond)
			}
		}
	})
	tm.start(t)
	fetches := func() float64 {
		return tm.metric(t, "bulwark_feed_fetches_total", "feed", "intel")
	}
	before := fetches()
	blocked := func(tab *blocklist.Table, name string) bool { m, ok := tab.Set.Match(name); return ok && !m.Allow }
	if b := first.Load(); !blocked(b, "expiring.example") || blocked(b, "later.example") || !blocked(b, "steady.example") {
		t.Fatalf("at start: expiring %v later %v steady %v", blocked(b, "expiring.example"), blocked(b, "later.example"), blocked(b, "steady.example"))
	}
	if !advanceInBuild {
		fake.Advance(1500 * time.Millisecond)
	}
	wait.For(t, "expiring.example stops blocking", func() bool { return !tm.blocked("expiring.example") })
	if tm.blocked("later.example") || !tm.blocked("steady.example") {
		t.Error("the other indicators changed with the expiry")
	}
	// Past valid_from, and past the least time between two rebuilds for
	// validity (minValidityGap, or five build times: a build slowed by
	// load must not hold this one back in fake time).
	fake.Advance(time.Minute)
	wait.For(t, "later.example starts blocking", func() bool { return tm.blocked("later.example") })
	if tm.blocked("expiring.example") || !tm.blocked("steady.example") {
		t.Error("after valid_from: wrong set")
	}
	if n := fetches(); n != before {
		t.Errorf("the list was fetched %v times for the expiry", n-before)
	}
	// explain agrees with the table.
	if m := tm.Rules().Matching("expiring.example"); len(m) != 0 {
		t.Errorf("explain still shows the expired indicator: %+v", m)
	}
}
