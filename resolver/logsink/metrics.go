package logsink

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics are the sinks' Prometheus series, labelled by sink name (the
// configured sinks only, so cardinality is what the operator wrote). Built
// once per process and shared by every generation's sinks.
type Metrics struct {
	sent    *prometheus.CounterVec
	dropped *prometheus.CounterVec
	retries *prometheus.CounterVec
	up      *prometheus.GaugeVec
	queued  *prometheus.GaugeVec
}

// Reasons a record is dropped.
const (
	dropQueueFull = "queue_full" // the destination was too slow or down for too long
	dropRejected  = "rejected"   // the destination refused it (HTTP 4xx, an Elasticsearch item error)
	dropSend      = "send_failed"
	dropShutdown  = "shutdown" // still queued when the sink had to stop
)

// NewMetrics registers the series with reg (nil: unregistered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	return &Metrics{
		sent:    f.CounterVec("bulwark_log_sink_sent_total", "Log records delivered by each log sink (syslog, HTTP).", "sink"),
		dropped: f.CounterVec("bulwark_log_sink_dropped_total", "Log records a log sink dropped, by reason: queue_full, rejected, send_failed, shutdown.", "sink", "reason"),
		retries: f.CounterVec("bulwark_log_sink_retries_total", "Reconnections and resent batches of each log sink.", "sink"),
		up:      f.GaugeVec("bulwark_log_sink_up", "1 while a log sink's destination accepts records (connected, or the last batch was taken), 0 otherwise.", "sink"),
		queued:  f.GaugeVec("bulwark_log_sink_queued", "Log records waiting in each log sink's queue.", "sink"),
	}
}

// Forget removes the series of sinks a reload removed, so that a renamed
// or deleted sink does not stay on dashboards (and in alerts) as a sink
// that is down or dropping. A nil Metrics does nothing.
func (m *Metrics) Forget(sinks ...string) {
	if m == nil {
		return
	}
	for _, s := range sinks {
		m.forget(s)
	}
}

// forget removes a sink's series once it is no longer configured.
func (m *Metrics) forget(sink string) {
	m.sent.DeleteLabelValues(sink)
	m.retries.DeleteLabelValues(sink)
	m.up.DeleteLabelValues(sink)
	m.queued.DeleteLabelValues(sink)
	for _, r := range []string{dropQueueFull, dropRejected, dropSend, dropShutdown} {
		m.dropped.DeleteLabelValues(sink, r)
	}
}

// sinkMetrics are one sink's series, curried.
type sinkMetrics struct {
	sent, retries                     prometheus.Counter
	queueFull, rejected, send, closed prometheus.Counter
	up, queued                        prometheus.Gauge
}

func (m *Metrics) forSink(name string) *sinkMetrics {
	return &sinkMetrics{
		sent:      m.sent.WithLabelValues(name),
		retries:   m.retries.WithLabelValues(name),
		queueFull: m.dropped.WithLabelValues(name, dropQueueFull),
		rejected:  m.dropped.WithLabelValues(name, dropRejected),
		send:      m.dropped.WithLabelValues(name, dropSend),
		closed:    m.dropped.WithLabelValues(name, dropShutdown),
		up:        m.up.WithLabelValues(name),
		queued:    m.queued.WithLabelValues(name),
	}
}
