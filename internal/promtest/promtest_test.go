package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "c"}, []string{"list", "action"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "h"})
	reg.MustRegister(c, g, h)
	c.WithLabelValues("a", "nxdomain").Add(2)
	c.WithLabelValues("a", "drop").Add(3)
	c.WithLabelValues("b", "nxdomain").Add(5)
	g.Set(7)
	h.Observe(1)
	h.Observe(2)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"c_total", nil, 10},
		{"c_total", []string{"list", "a"}, 5},
		{"c_total", []string{"list", "a", "action", "drop"}, 3},
		{"c_total", []string{"list", "z"}, 0},
		{"g", nil, 7},
		{"h_seconds", nil, 2},
		{"absent", nil, 0},
	}
	for _, tt := range tests {
		if got := Value(t, reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("Value(%s, %v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}
