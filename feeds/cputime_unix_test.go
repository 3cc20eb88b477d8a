//go:build unix

package feeds

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the CPU time (user and system, every thread) the
// process spends from its start to report, which a benchmark reports per
// op beside ns/op: on a machine other jobs share, the wall time counts
// their turns too, the CPU time much less.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{start: cpuNow()} }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds cpu-ns/op to b's results.
func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
