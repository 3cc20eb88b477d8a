//go:build !linux

package main

import "syscall"

// spreadsSockets is false: the BSDs' and macOS's SO_REUSEPORT lets sockets
// share a port but delivers each datagram to one of them, not spread over
// them as Linux does, so fakeauth serves on one socket here.
const spreadsSockets = false

// reusePort leaves the one socket as it is.
func reusePort(_, _ string, _ syscall.RawConn) error { return nil }
