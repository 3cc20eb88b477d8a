// Package wait is how tests wait for something another goroutine or
// process brings about (a server ready, a reload applied, a log line
// written): poll a condition under a generous bound, which is a guard
// against hanging, never a timing assertion.
package wait

import (
	"testing"
	"time"
)

// Bound is how long For polls before it fails the test: long enough for a
// loaded CI machine with the race detector on.
const Bound = 30 * time.Second

// For polls cond every few milliseconds until it holds, and fails t with
// "timed out waiting for what" if it does not within Bound.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
