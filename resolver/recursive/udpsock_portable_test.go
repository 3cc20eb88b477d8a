//go:build !linux || bulwark_portable

package recursive

import "testing"

// waitQueued blocks until sock's reading goroutine has queued a datagram,
// when want.
func waitQueued(t *testing.T, sock udpSock, want bool) {
	t.Helper()
	if !want {
		return
	}
	arrived := make(chan struct{}, 1)
	sock.q.mu.Lock()
	sock.q.notify = func() {
		select {
		case arrived <- struct{}{}:
		default:
		}
	}
	queued := len(sock.q.dgrams) > 0
	sock.q.mu.Unlock()
	if !queued {
		<-arrived
	}
}
