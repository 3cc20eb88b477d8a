package cache

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cputime"
)

// threadCPU is the CPU time of the calling thread: a put's cost without the
// time the machine gave other processes meanwhile.
func threadCPU() time.Duration {
	d, _ := cputime.Thread()
	return d
}

// BenchmarkStoreFill fills a store with n answers of about 200 bytes, as a
// resolver's cache fills, and reports besides the time per put the worst
// single put and how many took over 200 µs, in CPU time of the thread: a
// put that copies its shard stalls every query behind the shard lock, and
// on one core the whole server.
func BenchmarkStoreFill(b *testing.B) {
	for _, n := range []int{220_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			keys := make([]key, n)
			for i := range keys {
				keys[i] = key{name: "c" + strconv.Itoa(i) + ".example" + strconv.Itoa(i%300) + ".com.", qtype: 1, qclass: 1}
			}
			e := &entry{body: rawBody(0, 0, 200)}
			var worst time.Duration
			slow := 0
			b.ResetTimer()
			for range b.N {
				s := newStore(2_000_000, 1<<30, DefaultMaxEntryBytes)
				for _, k := range keys {
					t0 := threadCPU()
					s.put(k, e)
					d := threadCPU() - t0
					worst = max(worst, d)
					if d > 200*time.Microsecond {
						slow++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/put")
			b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
			b.ReportMetric(float64(slow)/float64(b.N), "puts>200µs")
		})
	}
}
