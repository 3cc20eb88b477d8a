package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
)

// feedMetrics are the per-list gauges of DESIGN.md, set after each load.
type feedMetrics struct {
	entries     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	rejected    *prometheus.GaugeVec
	trieEntries prometheus.Gauge
	trieBytes   prometheus.Gauge
	reloadFails prometheus.Counter
}

func newFeedMetrics(reg prometheus.Registerer) *feedMetrics {
	m := &feedMetrics{
		entries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_feed_entries", Help: "Rules each list contributed at its last successful load.",
		}, []string{"feed"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_feed_last_success_timestamp_seconds", Help: "Unix time of each list's last successful load.",
		}, []string{"feed"}),
		rejected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_feed_rejected_lines", Help: "Lines of each list rejected at its last load, by reason.",
		}, []string{"feed", "reason"}),
		trieEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bulwark_blocklist_entries", Help: "Rules in the merged blocklist being served.",
		}),
		trieBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bulwark_blocklist_bytes", Help: "Memory held by the merged blocklist being served.",
		}),
		reloadFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bulwark_feed_reload_failures_total", Help: "List reloads that failed and kept the previous lists.",
		}),
	}
	reg.MustRegister(m.entries, m.lastSuccess, m.rejected, m.trieEntries, m.trieBytes, m.reloadFails)
	return m
}

func (m *feedMetrics) record(reports []feeds.Report, t *blocklist.Table, now time.Time) {
	m.rejected.Reset()
	for _, r := range reports {
		m.entries.WithLabelValues(r.List).Set(float64(r.Entries))
		m.lastSuccess.WithLabelValues(r.List).Set(float64(now.Unix()))
		for reason, n := range r.Rejected {
			m.rejected.WithLabelValues(r.List, reason).Set(float64(n))
		}
	}
	m.trieEntries.Set(float64(t.Set.Len()))
	m.trieBytes.Set(float64(t.Set.SizeBytes()))
}

func (m *feedMetrics) reloadFailed() { m.reloadFails.Inc() }
