package promx_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/internal/promx"
)

// TestFactoryRegisters checks that every kind of series is registered on
// the factory's registry, under its name and labels, as it is made.
func TestFactoryRegisters(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := promx.With(reg)
	f.Counter("c_total", "c").Add(2)
	f.CounterVec("cv_total", "cv", "list", "action").WithLabelValues("a", "drop").Add(3)
	f.Gauge("g", "g").Set(7)
	f.GaugeVec("gv", "gv", "feed").WithLabelValues("x").Set(4)
	f.Histogram("h_seconds", "h", []float64{1, 2}).Observe(1)
	hv := f.HistogramVec("hv_seconds", "hv", []float64{1}, "upstream")
	hv.WithLabelValues("u").Observe(0.5)
	hv.WithLabelValues("u").Observe(3)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"c_total", nil, 2},
		{"cv_total", []string{"list", "a", "action", "drop"}, 3},
		{"g", nil, 7},
		{"gv", []string{"feed", "x"}, 4},
		{"h_seconds", nil, 1},
		{"hv_seconds", []string{"upstream", "u"}, 2},
	}
	for _, tt := range tests {
		if got := promtest.Value(t, reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}

// TestUnregistered checks that With(nil) and the zero Factory make working
// series without a registry, as the packages' tests use them.
func TestUnregistered(t *testing.T) {
	for _, f := range []promx.Factory{promx.With(nil), {}} {
		c := f.CounterVec("c_total", "c", "l")
		c.WithLabelValues("v").Inc()
		f.Counter("c_total", "c").Inc() // the same name again: no registry, no clash
	}
}

// TestDuplicatePanics checks that two series of one name on one registry
// fail loudly at start, not by exporting one of them silently.
func TestDuplicatePanics(t *testing.T) {
	f := promx.With(prometheus.NewRegistry())
	f.Counter("dup_total", "first")
	defer func() {
		if recover() == nil {
			t.Error("registering dup_total twice did not panic")
		}
	}()
	f.Counter("dup_total", "second")
}
