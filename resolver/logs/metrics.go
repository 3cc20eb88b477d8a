package logs

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics count what the logs had to drop. A nil *Metrics counts nothing.
type Metrics struct {
	blockDrops prometheus.Counter
	queryDrops prometheus.Counter
}

// NewMetrics registers the log metrics on reg (nil: unregistered). It is
// called once per process: a reload keeps the same Metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	return &Metrics{
		blockDrops: f.Counter("bulwark_blocklog_dropped_total", "Block log lines dropped because the log writer could not keep up or the write failed."),
		queryDrops: f.Counter("bulwark_querylog_dropped_total", "Query log lines dropped because the log writer could not keep up or the write failed."),
	}
}

func (m *Metrics) countLogDrops(n int) {
	if m != nil {
		m.blockDrops.Add(float64(n))
	}
}

func (m *Metrics) countQueryLogDrops(n int) {
	if m != nil {
		m.queryDrops.Add(float64(n))
	}
}
