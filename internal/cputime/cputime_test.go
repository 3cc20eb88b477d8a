package cputime

import (
	"runtime"
	"testing"
)

// TestClocksAdvance spins until both clocks have moved, bounded: a clock
// stuck at zero or going backwards fails.
func TestClocksAdvance(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0 := Process()
	t0, ok := Thread()
	if !ok {
		t.Skip("cputime: no thread CPU clock on this system")
	}
	x := 0
	for i := 0; i < 1_000_000_000; i++ {
		x += i
		if i%1_000_000 == 0 {
			if t1, _ := Thread(); t1 > t0 && Process() > p0 {
				return
			}
		}
	}
	t.Fatalf("after a billion iterations (%d) a clock did not move: process %v -> %v, thread from %v", x, p0, Process(), t0)
}
