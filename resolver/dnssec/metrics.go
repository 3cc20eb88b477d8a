package dnssec

import "github.com/prometheus/client_golang/prometheus"

// Metrics count validation outcomes. Construct once per process; a nil
// *Metrics counts nothing.
type Metrics struct {
	results *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_dnssec_results_total",
		Help: "Answers by DNSSEC validation result: secure, insecure, bogus (answered SERVFAIL), unchecked (the client set CD).",
	}, []string{"result"})}
	for _, r := range []string{"secure", "insecure", "bogus", "unchecked"} {
		m.results.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.results)
	}
	return m
}

func (m *Metrics) count(result string) {
	if m != nil {
		m.results.WithLabelValues(result).Inc()
	}
}
