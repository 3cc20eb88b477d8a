// Package cputime reads the CPU time a process or thread has used, which
// benchmarks report beside the wall time: on a machine other jobs share,
// the wall time counts their turns too, the CPU time much less.
package cputime

import "time"

// Process returns the user and system CPU time of the whole process (every
// thread, the collector's too); 0 where it cannot be read.
func Process() time.Duration { return process() }

// Thread returns the CPU time of the calling thread (lock it with
// runtime.LockOSThread to time one goroutine's work); ok is false where
// the clock is unavailable.
func Thread() (d time.Duration, ok bool) { return thread() }
