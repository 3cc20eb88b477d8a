package blocklist

import (
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkBuildSteps times the build's phases after the names are added
// (sort, tree and the compile's), each the fastest of the iterations: on
// a shared machine other jobs only ever add, so the minimum is the figure
// to compare between two builds of the code run in turn. The names are
// those of the list at BULWARK_BUILD_TRACE (one a line), else 1M
// generated ones; they are added once, and every iteration builds from
// the same unsorted buffer, as Build does.
// BULWARK_BUILD_TRACE=list go test -run '^$' -bench BuildSteps -benchtime 5x ./blocklist
func BenchmarkBuildSteps(tb *testing.B) {
	b := NewBuilder()
	if path := os.Getenv("BULWARK_BUILD_TRACE"); path != "" {
		addList(tb, b, path, func(_ int, name string) Rule { return Rule{Name: name} })
	} else {
		for _, nm := range benchNames(1_000_000) {
			if err := b.Add(Rule{Name: nm}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	unsorted := slices.Clone(b.ents)
	best := map[string]time.Duration{}
	var order []string
	for tb.Loop() {
		copy(b.ents, unsorted)
		last := time.Now()
		b.opts.trace = func(phase string) {
			d := time.Since(last)
			if old, ok := best[phase]; !ok || d < old {
				if !ok {
					order = append(order, phase)
				}
				best[phase] = d
			}
			last = time.Now()
		}
		if _, err := b.Build(); err != nil {
			tb.Fatal(err)
		}
	}
	var total time.Duration
	for _, p := range order {
		tb.ReportMetric(float64(best[p].Microseconds())/1000, p+"-ms")
		total += best[p]
	}
	tb.ReportMetric(float64(total.Microseconds())/1000, "sum-ms")
}
