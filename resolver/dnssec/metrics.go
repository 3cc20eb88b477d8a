package dnssec

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics count validation outcomes. Construct once per process; a nil
// *Metrics counts nothing.
type Metrics struct {
	results *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{results: promx.With(reg).CounterVec("bulwark_dnssec_results_total",
		"Answers by DNSSEC validation result: secure, insecure, bogus (answered SERVFAIL), unchecked (the client set CD).", "result")}
	for _, r := range []string{"secure", "insecure", "bogus", "unchecked"} {
		m.results.WithLabelValues(r)
	}
	return m
}

func (m *Metrics) count(result string) {
	if m != nil {
		m.results.WithLabelValues(result).Inc()
	}
}
