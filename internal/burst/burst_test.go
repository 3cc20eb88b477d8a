package burst

import (
	"sync"
	"testing"
)

// TestQueueHandsEverythingOnce: items added from many goroutines at once
// are each handed to a leader's drain or a flush exactly once; a caller
// told neither may return at once, and after every caller has returned
// nothing is left and the queue is idle for the next burst. With Max, no
// burst is much larger than Max (callers queueing at the same moment may
// each add one before the flush takes them). Run with -race.
func TestQueueHandsEverythingOnce(t *testing.T) {
	tests := []struct {
		name         string
		workers, per int
		rounds       int // bursts one after another on the same queue
		max          int
	}{
		{"alone", 1, 1, 1, 0},
		{"alone, several bursts", 1, 5, 3, 0},
		{"many at once", 16, 50, 1, 0},
		{"many at once, again and again", 8, 20, 4, 0},
		{"bounded", 16, 50, 2, 4},
		{"bounded at one", 4, 10, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := Queue[int]{Max: tt.max}
			var mu sync.Mutex // a flush may run beside the leader's drain
			seen := map[int]int{}
			bursts, largest := 0, 0
			handle := func(b []int) {
				mu.Lock()
				defer mu.Unlock()
				bursts, largest = bursts+1, max(largest, len(b))
				for _, v := range b {
					seen[v]++
				}
			}
			for r := range tt.rounds {
				var wg sync.WaitGroup
				for w := range tt.workers {
					wg.Go(func() {
						for i := range tt.per {
							switch lead, full := q.Add((r*tt.workers+w)*tt.per + i); {
							case lead:
								q.Drain(handle)
							case full:
								q.Flush(handle)
							}
						}
					})
				}
				wg.Wait()
				if !q.Idle() {
					t.Fatalf("round %d: queue not idle after every caller returned", r)
				}
			}
			total := tt.rounds * tt.workers * tt.per
			if len(seen) != total {
				t.Fatalf("%d items handled, want %d", len(seen), total)
			}
			for v, n := range seen {
				if n != 1 {
					t.Fatalf("item %d handled %d times", v, n)
				}
			}
			if bursts == 0 || bursts > total {
				t.Fatalf("%d bursts for %d items", bursts, total)
			}
			if tt.max > 0 && largest > tt.max+tt.workers {
				t.Fatalf("a burst of %d with Max %d and %d callers", largest, tt.max, tt.workers)
			}
		})
	}
}
