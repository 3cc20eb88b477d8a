//go:build !unix

package main

// reexec does nothing where a process cannot replace itself: the server
// runs with Go's default sysmon.
func reexec([]string) error { return nil }
