package sightings

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics count what the collector saw, sent and dropped. A nil *Metrics
// records nothing.
type Metrics struct {
	blocks    prometheus.Counter
	dropped   *prometheus.CounterVec
	sent      *prometheus.CounterVec
	failures  *prometheus.CounterVec
	pending   *prometheus.GaugeVec
	lastFlush prometheus.Gauge
}

// Drop reasons, the reason label of bulwark_sightings_dropped_total.
const (
	dropQueue   = "queue_full"      // the collector's queue was full (blocks)
	dropLimit   = "indicator_limit" // more than max_indicators in an interval (blocks)
	dropPending = "pending_full"    // a destination failing for long (sightings)
)

// Destinations, the destination label.
const (
	destTAXII = "taxii"
	destDir   = "dir"
	destMISP  = "misp"
)

// NewMetrics registers the sightings metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	m := &Metrics{
		blocks:    f.Counter("bulwark_sightings_blocks_total", "Blocks by a threat-intelligence rule counted for sightings."),
		dropped:   f.CounterVec("bulwark_sightings_dropped_total", "Blocks (queue_full, indicator_limit) or sightings (pending_full) dropped.", "reason"),
		sent:      f.CounterVec("bulwark_sightings_sent_total", "Sightings delivered, by destination: taxii, dir, misp.", "destination"),
		failures:  f.CounterVec("bulwark_sightings_send_failures_total", "Failed attempts to deliver sightings, by destination; they are retried.", "destination"),
		pending:   f.GaugeVec("bulwark_sightings_pending", "Sightings waiting for a failing destination, by destination.", "destination"),
		lastFlush: f.Gauge("bulwark_sightings_last_report_timestamp_seconds", "Unix time of the last sightings report."),
	}
	for _, r := range []string{dropQueue, dropLimit, dropPending} {
		m.dropped.WithLabelValues(r)
	}
	for _, d := range []string{destTAXII, destDir, destMISP} {
		m.sent.WithLabelValues(d)
		m.failures.WithLabelValues(d)
	}
	return m
}

func (m *Metrics) block() {
	if m != nil {
		m.blocks.Inc()
	}
}

func (m *Metrics) drop(reason string, n int) {
	if m != nil && n > 0 {
		m.dropped.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) delivered(dest string, n int) {
	if m != nil {
		m.sent.WithLabelValues(dest).Add(float64(n))
	}
}

func (m *Metrics) failed(dest string) {
	if m != nil {
		m.failures.WithLabelValues(dest).Inc()
	}
}

func (m *Metrics) waiting(dest string, n int) {
	if m != nil {
		m.pending.WithLabelValues(dest).Set(float64(n))
	}
}

func (m *Metrics) flushed(unix float64) {
	if m != nil {
		m.lastFlush.Set(unix)
	}
}
