//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// reexec replaces the process with a fresh run of the same binary and
// arguments in env, keeping the PID (systemd, containers and the bench
// harness see one process throughout).
func reexec(env []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the executable: %w", err)
	}
	return syscall.Exec(exe, os.Args, env)
}
