package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// spreadsSockets: the kernel spreads the datagrams to a port over the
// sockets reusePort lets share it, by their source.
const spreadsSockets = true

// reusePort lets several UDP sockets share the port.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
