package wait

import (
	"sync/atomic"
	"testing"
)

// TestForReturnsOnceTrue: For returns as soon as the condition holds, after
// as many polls as it took, and does not fail the test.
func TestForReturnsOnceTrue(t *testing.T) {
	for _, after := range []int32{1, 2, 5} {
		var polls atomic.Int32
		For(t, "the condition", func() bool { return polls.Add(1) >= after })
		if got := polls.Load(); got != after {
			t.Errorf("after %d: polled %d times, want %d", after, got, after)
		}
	}
}
