package cputime

import "runtime/metrics"

// schedLatencies is the runtime's histogram of how long goroutines waited
// runnable before they ran: one sample per gTrackingPeriod (8) of a
// goroutine's transitions out of running.
const schedLatencies = "/sched/latencies:seconds"

// Schedules estimates how many times goroutines have been scheduled to run
// since the process started: every hand-off from one goroutine to
// another, a run-queue trip on a loaded core. Benchmarks report it per
// operation beside the CPU time; it is sampled, so only its mean over many
// operations means anything.
func Schedules() float64 {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return float64(n) * 8
}
