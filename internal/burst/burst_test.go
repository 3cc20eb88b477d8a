package burst

import (
	"sync"
	"testing"
)

// TestQueueHandsEverythingOnce: items added from many goroutines at once
// are each handed to a leader's drain exactly once; a caller that did not
// lead may return at once, and after every caller has returned (the
// leaders from their drains) nothing is left and the queue is idle for
// the next burst. Run with -race: the items and the handler's state are
// touched by whichever goroutine leads.
func TestQueueHandsEverythingOnce(t *testing.T) {
	tests := []struct {
		name         string
		workers, per int
		rounds       int // bursts one after another on the same queue
	}{
		{"alone", 1, 1, 1},
		{"alone, several bursts", 1, 5, 3},
		{"many at once", 16, 50, 1},
		{"many at once, again and again", 8, 20, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Queue[int]
			seen := map[int]int{}
			bursts := 0
			handle := func(b []int) { // only ever on the leader: no lock of its own
				bursts++
				for _, v := range b {
					seen[v]++
				}
			}
			for r := range tt.rounds {
				var wg sync.WaitGroup
				for w := range tt.workers {
					wg.Go(func() {
						for i := range tt.per {
							if q.Add((r*tt.workers+w)*tt.per + i) {
								q.Drain(handle)
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
		})
	}
}
