package resolver

import "testing"

// TestReadLoopYield: the read loop lets the workers run after yieldEvery
// full batches counted from the first that handed one a query, and never
// when a batch came short (the next read parks and they run then) or
// nothing waits.
func TestReadLoopYield(t *testing.T) {
	type batch struct{ n, handed int }
	full := func(handed int) batch { return batch{udpBatch, handed} }
	tests := []struct {
		name    string
		batches []batch
		want    []bool // one per batch
	}{
		{"short batches never", []batch{{3, 1}, {1, 1}, {31, 2}}, []bool{false, false, false}},
		{"full batches with nothing handed never", []batch{full(0), full(0), full(0), full(0), full(0)},
			[]bool{false, false, false, false, false}},
		{"the fourth full batch since a hand-off", []batch{full(0), full(1), full(0), full(0), full(0), full(0)},
			[]bool{false, false, false, false, true, false}},
		{"every fourth while the backlog lasts", []batch{full(1), full(1), full(1), full(1), full(1), full(1), full(1), full(1)},
			[]bool{false, false, false, true, false, false, false, true}},
		{"a short batch starts over", []batch{full(1), full(0), {5, 0}, full(1), full(0), full(0), full(0)},
			[]bool{false, false, false, false, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r udpReader
			for i, b := range tt.batches {
				r.handed += b.handed // as readUDP counts them
				if got := r.yield(b.n); got != tt.want[i] {
					t.Fatalf("batch %d (%d datagrams, %d handed): yield %v, want %v", i, b.n, b.handed, got, tt.want[i])
				}
			}
		})
	}
}
