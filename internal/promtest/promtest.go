// Package promtest reads metric values out of a Prometheus registry for
// tests, the way a dashboard would: by name and labels.
package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Value sums the samples of the metric name over the series whose labels
// include every name/value pair in labels: the value of a counter or
// gauge, the sample count of a histogram or summary. It is 0 when no
// series matches, as an unused counter reads on a dashboard.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("promtest: labels %q are not name/value pairs", labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				sum += m.GetUntyped().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.GetSummary() != nil:
				sum += float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return sum
}
