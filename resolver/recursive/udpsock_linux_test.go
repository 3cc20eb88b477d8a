//go:build linux && !bulwark_portable

package recursive

import (
	"testing"

	"golang.org/x/sys/unix"
)

// waitQueued blocks until sock has a datagram to read, when want (poll(2)
// without a timeout: loopback delivers within the sender's call, so this
// returns at once).
func waitQueued(t *testing.T, sock udpSock, want bool) {
	t.Helper()
	if !want {
		return
	}
	fds := []unix.PollFd{{Fd: int32(sock.fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
}
