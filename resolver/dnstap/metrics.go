package dnstap

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics count what the dnstap output did with each frame, so an operator
// can alert on a collector that is down or too slow.
type Metrics struct {
	sent      prometheus.Counter
	dropped   prometheus.Counter
	connected prometheus.Gauge
}

// NewMetrics registers the dnstap metrics on reg (nil: unregistered). It
// is called once per process.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	return &Metrics{
		sent:      f.Counter("bulwark_dnstap_sent_total", "dnstap frames written to the collector."),
		dropped:   f.Counter("bulwark_dnstap_dropped_total", "dnstap frames dropped: queue full, collector unreachable, or lost with a broken connection."),
		connected: f.Gauge("bulwark_dnstap_connected", "1 while a Frame Streams session with the dnstap collector is open."),
	}
}

func (m *Metrics) countSent(n int) {
	if m != nil && n > 0 {
		m.sent.Add(float64(n))
	}
}

func (m *Metrics) countDropped(n int) {
	if m != nil && n > 0 {
		m.dropped.Add(float64(n))
	}
}

func (m *Metrics) setConnected(up bool) {
	if m == nil {
		return
	}
	if up {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}
