package recursive

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"syscall"
	"testing"
)

// TestSendQueueFlush: a burst's queries are written once each, in the
// order queued, each from its own socket; a withdrawn one never leaves,
// and a failed write wakes its exchange and says why. The flusher is run
// by the test (the queue is marked running, so queue starts none), and
// loopback delivers a datagram within the write, so what the server
// socket holds once flush returns is everything that was sent.
func TestSendQueueFlush(t *testing.T) {
	tests := []struct {
		name      string
		sizes     []int  // the queries' lengths, in queue order
		withdrawn []bool // withdrawn before the flush
		wantErr   []bool // the write fails (a datagram too large for UDP)
	}{
		{name: "one", sizes: []int{40}},
		{name: "burst", sizes: []int{40, 41, 42, 43, 44, 45, 46, 47}},
		{name: "withdrawn", sizes: []int{40, 41, 42}, withdrawn: []bool{false, true, false}},
		{name: "all withdrawn", sizes: []int{40, 41}, withdrawn: []bool{true, true}},
		{name: "failed write", sizes: []int{40, 70000, 42}, wantErr: []bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if err := pc.SetReadBuffer(1 << 20); err != nil {
				t.Fatal(err)
			}
			q := &sendQueue{running: true}
			var outs []*outbound
			var want [][]byte
			for i, n := range tt.sizes {
				sock, err := dialUDP(pc.LocalAddr().(*net.UDPAddr).AddrPort())
				if err != nil {
					t.Fatal(err)
				}
				defer sock.close()
				wire := bytes.Repeat([]byte{byte(i + 1)}, n)
				o := q.queue(sock, wire, make(chan struct{}, 1))
				outs = append(outs, o)
				if i < len(tt.withdrawn) && tt.withdrawn[i] {
					o.withdraw()
				} else if i >= len(tt.wantErr) || !tt.wantErr[i] {
					want = append(want, wire)
				}
			}
			q.flush()
			if q.running || len(q.pending) != 0 {
				t.Fatalf("after flush: running %v, %d pending; want a stopped, empty queue", q.running, len(q.pending))
			}
			var got [][]byte
			buf := make([]byte, 1<<17)
			for {
				n, err := syscall.Read(fdOf(t, pc), buf)
				if errors.Is(err, syscall.EAGAIN) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, slices.Clone(buf[:n]))
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("server got %d datagrams %v; want %d %v", len(got), lens(got), len(want), lens(want))
			}
			for i, o := range outs {
				failed := i < len(tt.wantErr) && tt.wantErr[i]
				if err := o.failed(); (err != nil) != failed {
					t.Errorf("query %d: write error %v, want failed = %v", i, err, failed)
				}
				if woken := len(o.ready) == 1; woken != failed {
					t.Errorf("query %d: woken %v, want %v (only a failed write wakes its exchange)", i, woken, failed)
				}
				o.withdraw() // returns at once: written or withdrawn already
			}
		})
	}
}

func lens(bs [][]byte) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprint(len(b)))
	}
	return fmt.Sprint(s)
}

// fdOf is pc's descriptor, set non-blocking by the runtime already.
func fdOf(t *testing.T, pc *net.UDPConn) int {
	t.Helper()
	rc, err := pc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}
