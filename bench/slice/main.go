//go:build linux

// Command slice runs a command with a scheduler slice of its own: the
// EEVDF slice that Linux 6.12 and later take from sched_attr.sched_runtime
// for a SCHED_OTHER task, inherited by every thread and child the command
// starts. bench/recursive's SLICE_US starts every resolver under it, so
// that all of them, not only one, ask for the same slice.
//
//	slice MICROSECONDS COMMAND [ARG...]
//
// A shorter slice does not buy a larger share of the CPU: it gives the
// task an earlier virtual deadline, so that on waking it preempts a task
// that has run its slice rather than waiting for that task's whole
// (default 1.4 ms here) slice. On a core shared with other work, that
// time on the run queue is what a resolver's fixed-rate tail is made of
// (bench/README.md, "bench/recursive").
// Exit status: 1 when the slice cannot be set or the command not started.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// schedAttr is the kernel's struct sched_attr (include/uapi/linux/sched/types.h).
type schedAttr struct {
	size, policy              uint32
	flags                     uint64
	nice                      int32
	priority                  uint32
	runtime, deadline, period uint64
	utilMin, utilMax          uint32
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: slice MICROSECONDS COMMAND [ARG...]")
		os.Exit(2)
	}
	us, err := strconv.ParseUint(os.Args[1], 10, 32)
	if err != nil || us < 100 || us > 100000 {
		fmt.Fprintf(os.Stderr, "slice: %q: the kernel takes 100 to 100000 µs\n", os.Args[1])
		os.Exit(2)
	}
	path, err := exec.LookPath(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "slice:", err)
		os.Exit(1)
	}
	runtime.LockOSThread() // the attribute is this thread's, and exec keeps it
	if err := setSlice(us); err != nil {
		fmt.Fprintf(os.Stderr, "slice: %v (a custom slice needs Linux 6.12 or later)\n", err)
		os.Exit(1)
	}
	err = syscall.Exec(path, os.Args[2:], os.Environ())
	fmt.Fprintln(os.Stderr, "slice: exec:", err)
	os.Exit(1)
}

// setSlice asks for a slice of us microseconds for the calling thread,
// which must be locked to its goroutine.
func setSlice(us uint64) error {
	a := schedAttr{size: uint32(unsafe.Sizeof(schedAttr{})), policy: unix.SCHED_NORMAL, runtime: us * 1000}
	if _, _, errno := unix.RawSyscall(unix.SYS_SCHED_SETATTR, 0, uintptr(unsafe.Pointer(&a)), 0); errno != 0 {
		return os.NewSyscallError("sched_setattr", errno)
	}
	return nil
}
