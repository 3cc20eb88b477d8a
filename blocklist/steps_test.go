package blocklist

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cputime"
)

// BenchmarkBuildSteps times the build's phases after the names are added
// (sort, tree and the compile's), each the fastest of the iterations: on
// a shared machine other jobs only ever add, so the minimum is the figure
// to compare between two builds of the code run in turn; each phase's
// CPU time (the process's, -cpu-ms) too, which the machine's other jobs
// move less than the wall clock. The names are
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
	best, bestCPU := map[string]time.Duration{}, map[string]time.Duration{}
	var order []string
	for tb.Loop() {
		copy(b.ents, unsorted)
		last, lastCPU := time.Now(), cputime.Process()
		b.opts.trace = func(phase string) {
			d, c := time.Since(last), cputime.Process()-lastCPU
			if old, ok := best[phase]; !ok || d < old {
				if !ok {
					order = append(order, phase)
				}
				best[phase] = d
			}
			if old, ok := bestCPU[phase]; !ok || c < old {
				bestCPU[phase] = c
			}
			last, lastCPU = time.Now(), cputime.Process()
		}
		if _, err := b.Build(); err != nil {
			tb.Fatal(err)
		}
	}
	var total, totalCPU time.Duration
	for _, p := range order {
		tb.ReportMetric(float64(best[p].Microseconds())/1000, p+"-ms")
		tb.ReportMetric(float64(bestCPU[p].Microseconds())/1000, p+"-cpu-ms")
		total += best[p]
		totalCPU += bestCPU[p]
	}
	tb.ReportMetric(float64(total.Microseconds())/1000, "sum-ms")
	tb.ReportMetric(float64(totalCPU.Microseconds())/1000, "sum-cpu-ms")
}
