package feeds

import (
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/inteltest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestIndicatorExpiresWithoutRefetch: an indicator whose valid_until is
// one second ahead stops blocking when the (injected) clock passes it,
// with no fetch of its list; one whose valid_from is ahead starts
// blocking then; the others keep blocking.
func TestIndicatorExpiresWithoutRefetch(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	fake := clock.NewFake(now)
	ts := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	bundle := `{"type":"bundle","id":"bundle--1","objects":[` +
		inteltest.Indicator(uuidA, domainPattern("expiring.example"), ts(now), ts(now.Add(-time.Hour)), ts(now.Add(time.Second))) + "," +
		inteltest.Indicator(uuidB, domainPattern("later.example"), ts(now), ts(now.Add(2*time.Second)), "") + "," +
		inteltest.Indicator(uuidC, domainPattern("steady.example"), ts(now), ts(now.Add(-time.Hour)), "") + `]}`
	path := writeFile(t, t.TempDir(), "bundle.json", bundle)
	tm := newTestManager(t, func(o *Options) {
		o.Clock = fake
		o.Blocklists = []ListConfig{{Name: "intel", Format: FormatSTIX, Source: "file:" + path, Refresh: time.Hour}}
	})
	tm.start(t)
	fetches := func() float64 {
		return tm.metric(t, "bulwark_feed_fetches_total", "feed", "intel")
	}
	before := fetches()
	if !tm.blocked("expiring.example") || tm.blocked("later.example") || !tm.blocked("steady.example") {
		t.Fatalf("at start: expiring %v later %v steady %v", tm.blocked("expiring.example"), tm.blocked("later.example"), tm.blocked("steady.example"))
	}
	fake.Advance(1500 * time.Millisecond)
	wait.For(t, "expiring.example stops blocking", func() bool { return !tm.blocked("expiring.example") })
	if tm.blocked("later.example") || !tm.blocked("steady.example") {
		t.Error("the other indicators changed with the expiry")
	}
	fake.Advance(time.Second)
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
