package feeds

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics are the per-feed and merged-blocklist metrics. Construct once
// with NewMetrics; a nil *Metrics records nothing. Labels are list names
// and fixed reasons, never query names.
type Metrics struct {
	entries       *prometheus.GaugeVec
	loaded        *prometheus.GaugeVec
	lastSuccess   *prometheus.GaugeVec
	lastAttempt   *prometheus.GaugeVec
	attemptOK     *prometheus.GaugeVec
	rejected      *prometheus.GaugeVec
	skipped       *prometheus.GaugeVec
	triggers      *prometheus.GaugeVec
	downloadBytes *prometheus.GaugeVec
	downloadSecs  *prometheus.GaugeVec
	fetches       *prometheus.CounterVec
	errors        *prometheus.CounterVec
	cacheErrors   *prometheus.CounterVec
	tableEntries  prometheus.Gauge
	tableBytes    prometheus.Gauge
	buildSecs     prometheus.Gauge
	buildFailures prometheus.Counter
	xfr           xfrMetrics // zone transfer feeds (xfrmetrics.go)
}

// Fetch results, the result label of bulwark_feed_fetches_total.
const (
	resultUpdated   = "updated"   // a new copy was accepted
	resultUnchanged = "unchanged" // 304, or a local file with the same size and mtime
	resultFailed    = "failed"    // download or parse failed
	resultRejected  = "rejected"  // downloaded but refused: shrunk below min_ratio
)

// NewMetrics registers the feed metrics with reg (nil: unregistered, for
// tests that read no metrics).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	gauge := func(name, help string) *prometheus.GaugeVec { return f.GaugeVec(name, help, "feed") }
	m := &Metrics{
		entries:       gauge("bulwark_feed_entries", "Rules in each list's copy being served."),
		loaded:        gauge("bulwark_feed_loaded", "1 if the list has a good copy (from its source or the disk cache), else 0."),
		lastSuccess:   gauge("bulwark_feed_last_success_timestamp_seconds", "Unix time the list's source last confirmed the copy being served (a download or a 304)."),
		lastAttempt:   gauge("bulwark_feed_last_attempt_timestamp_seconds", "Unix time of the list's last refresh attempt."),
		attemptOK:     gauge("bulwark_feed_last_attempt_success", "1 if the list's last refresh attempt succeeded, 0 if it failed and the last good copy is kept."),
		rejected:      f.GaugeVec("bulwark_feed_rejected_lines", "Invalid lines in the list's copy being served, by reason.", "feed", "reason"),
		skipped:       f.GaugeVec("bulwark_feed_skipped_lines", "Lines of the list's copy ignored on purpose (cosmetic adblock rules, RPZ IP triggers, localhost entries), by reason.", "feed", "reason"),
		triggers:      f.GaugeVec("bulwark_feed_rpz_triggers", "RPZ rules of the list's copy being served whose trigger is not the query name, by trigger (rpz-client-ip, rpz-ip, rpz-nsdname, rpz-nsip).", "feed", "trigger"),
		downloadBytes: gauge("bulwark_feed_download_bytes", "Bytes read (as sent, before decompression) at the list's last download."),
		downloadSecs:  gauge("bulwark_feed_download_duration_seconds", "Duration of the list's last refresh attempt, download and parse."),
		fetches:       f.CounterVec("bulwark_feed_fetches_total", "Refresh attempts by result: updated, unchanged, failed, rejected (shrunk below min_ratio).", "feed", "result"),
		errors:        f.CounterVec("bulwark_feed_errors_total", "Refresh attempts that failed or were rejected; the last good copy stays in use.", "feed"),
		cacheErrors:   f.CounterVec("bulwark_feed_cache_write_errors_total", "Failures to write a list's copy to feeds.cache_dir.", "feed"),
		tableEntries:  f.Gauge("bulwark_blocklist_entries", "Distinct rules in the merged blocklist being served."),
		tableBytes:    f.Gauge("bulwark_blocklist_bytes", "Memory held by the merged blocklist being served."),
		buildSecs:     f.Gauge("bulwark_blocklist_build_duration_seconds", "Time the last merged blocklist took to build."),
		buildFailures: f.Counter("bulwark_blocklist_build_failures_total", "Merged blocklist builds that failed; the previous one stays in use."),
	}
	m.xfr = newXfrMetrics(f)
	return m
}

// declare makes a list's series exist from the start (0 until loaded), so
// dashboards and alerts see a list that never loads.
func (m *Metrics) declare(feed string) {
	if m == nil {
		return
	}
	m.loaded.WithLabelValues(feed).Set(0)
	m.entries.WithLabelValues(feed)
	m.errors.WithLabelValues(feed)
	for _, r := range []string{resultUpdated, resultUnchanged, resultFailed, resultRejected} {
		m.fetches.WithLabelValues(feed, r)
	}
}

// Forget deletes every series of a list that is no longer configured (a
// reload removed it), so that its last values do not linger and alert.
func (m *Metrics) Forget(feed string) {
	if m == nil {
		return
	}
	l := prometheus.Labels{"feed": feed}
	for _, v := range []*prometheus.MetricVec{m.entries.MetricVec, m.loaded.MetricVec, m.lastSuccess.MetricVec,
		m.lastAttempt.MetricVec, m.attemptOK.MetricVec, m.rejected.MetricVec, m.skipped.MetricVec, m.triggers.MetricVec,
		m.downloadBytes.MetricVec, m.downloadSecs.MetricVec, m.fetches.MetricVec, m.errors.MetricVec, m.cacheErrors.MetricVec} {
		v.DeletePartialMatch(l)
	}
	m.xfr.forget(l)
}

// copyInUse records the copy a list now serves.
func (m *Metrics) copyInUse(feed string, c *feedCopy) {
	if m == nil {
		return
	}
	m.loaded.WithLabelValues(feed).Set(1)
	m.entries.WithLabelValues(feed).Set(float64(c.entries))
	m.rejected.DeletePartialMatch(prometheus.Labels{"feed": feed})
	for reason, n := range c.report.Rejected {
		m.rejected.WithLabelValues(feed, reason).Set(float64(n))
	}
	m.skipped.DeletePartialMatch(prometheus.Labels{"feed": feed})
	for reason, n := range c.report.SkippedBy {
		m.skipped.WithLabelValues(feed, reason).Set(float64(n))
	}
	m.triggers.DeletePartialMatch(prometheus.Labels{"feed": feed})
	for kind, n := range c.report.Triggers {
		m.triggers.WithLabelValues(feed, kind).Set(float64(n))
	}
}

// success records that the source confirmed the list's copy at t.
func (m *Metrics) success(feed string, t time.Time) {
	if m == nil {
		return
	}
	m.lastSuccess.WithLabelValues(feed).Set(float64(t.Unix()))
}

// attempt records one refresh attempt.
func (m *Metrics) attempt(feed, result string, at time.Time, took time.Duration, bytes int64) {
	if m == nil {
		return
	}
	m.lastAttempt.WithLabelValues(feed).Set(float64(at.Unix()))
	m.downloadSecs.WithLabelValues(feed).Set(took.Seconds())
	if result != resultUnchanged {
		m.downloadBytes.WithLabelValues(feed).Set(float64(bytes))
	}
	m.fetches.WithLabelValues(feed, result).Inc()
	ok := 1.0
	if result == resultFailed || result == resultRejected {
		ok = 0
		m.errors.WithLabelValues(feed).Inc()
	}
	m.attemptOK.WithLabelValues(feed).Set(ok)
}

func (m *Metrics) cacheWriteFailed(feed string) {
	if m == nil {
		return
	}
	m.cacheErrors.WithLabelValues(feed).Inc()
}

// published records the merged table now served.
func (m *Metrics) published(t *blocklist.Table, took time.Duration) {
	if m == nil {
		return
	}
	m.tableEntries.Set(float64(t.Set.Len()))
	m.tableBytes.Set(float64(t.Set.SizeBytes()))
	m.buildSecs.Set(took.Seconds())
}

func (m *Metrics) buildFailed() {
	if m == nil {
		return
	}
	m.buildFailures.Inc()
}
