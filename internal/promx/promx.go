// Package promx builds the Prometheus series of every package's Metrics
// from a name, a help text and the label names, so that a metric is one
// line where it is declared and every series is registered when it is made
// (docs/ARCHITECTURE.md, "Metrics").
package promx

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Factory makes series registered on one registry. The zero Factory, and
// With(nil), registers nothing: tests build Metrics without a registry.
type Factory struct{ f promauto.Factory }

// With returns the Factory that registers on reg (nil: unregistered). A
// name registered twice panics, as prometheus.MustRegister does: two
// packages claiming one series is a programming error.
func With(reg prometheus.Registerer) Factory { return Factory{promauto.With(reg)} }

// Counter is an unlabelled counter.
func (f Factory) Counter(name, help string) prometheus.Counter {
	return f.f.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

// CounterVec is a counter with the given label names.
func (f Factory) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return f.f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Gauge is an unlabelled gauge.
func (f Factory) Gauge(name, help string) prometheus.Gauge {
	return f.f.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

// GaugeVec is a gauge with the given label names.
func (f Factory) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return f.f.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
}

// Histogram is an unlabelled histogram with the given bucket bounds.
func (f Factory) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return f.f.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
}

// HistogramVec is a histogram with the given bucket bounds and label names.
func (f Factory) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return f.f.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}
