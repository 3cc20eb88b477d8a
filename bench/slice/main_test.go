//go:build linux

package main

import (
	"errors"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSetSlice sets the slice of a locked thread and reads it back from
// the kernel's /proc/thread-self/sched (se.slice, in ns).
func TestSetSlice(t *testing.T) {
	for _, us := range []uint64{100, 1000, 100000} { // the shortest, a millisecond, the longest
		t.Run(strconv.FormatUint(us, 10)+"µs", func(t *testing.T) {
			// Locked and never unlocked: the subtest's thread exits with it,
			// so that no other test runs on its slice.
			runtime.LockOSThread()
			if err := setSlice(us); err != nil {
				if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
					t.Skipf("no custom slice here: %v", err)
				}
				t.Fatal(err)
			}
			b, err := os.ReadFile("/proc/thread-self/sched")
			if err != nil {
				t.Skipf("no sched file: %v", err)
			}
			m := regexp.MustCompile(`se\.slice\s*:\s*(\d+)`).FindSubmatch(b)
			if m == nil {
				t.Skip("no se.slice in /proc/thread-self/sched")
			}
			if got, _ := strconv.ParseUint(string(m[1]), 10, 64); got != us*1000 {
				t.Errorf("se.slice = %d ns, want %d", got, us*1000)
			}
		})
	}
}
