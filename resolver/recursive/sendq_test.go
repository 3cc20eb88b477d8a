package recursive

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/udpsock"
)

// TestSendQueueWrites: a burst's queries are written once each, in the
// order queued, each from its own socket; a withdrawn one never leaves,
// and a failed write wakes its exchange and says why. The test leads the
// burst itself (its first Add) and drains it once everything is queued;
// loopback delivers a datagram within the write, so what the server
// socket holds after the drain is everything that was sent.
func TestSendQueueWrites(t *testing.T) {
	const tooLarge = 70000 // more than a UDP datagram holds: the write fails
	tests := []struct {
		name      string
		sizes     []int
		withdrawn []int // indexes withdrawn before the drain
	}{
		{name: "one", sizes: []int{40}},
		{name: "burst", sizes: []int{40, 41, 42, 43, 44, 45, 46, 47}},
		{name: "withdrawn", sizes: []int{40, 41, 42}, withdrawn: []int{1}},
		{name: "all withdrawn", sizes: []int{40, 41}, withdrawn: []int{0, 1}},
		{name: "failed write", sizes: []int{40, tooLarge, 42}},
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sendQueue
			var outs []*outbound
			var want [][]byte
			for i, n := range tt.sizes {
				sock, err := udpsock.Dial(to)
				if err != nil {
					t.Fatal(err)
				}
				defer sock.Close()
				o := &outbound{sock: sock, wire: bytes.Repeat([]byte{byte(i + 1)}, n), ready: make(chan struct{}, 1)}
				if lead, full := s.q.Add(o); lead != (i == 0) || full {
					t.Fatalf("query %d: lead %v, full %v", i, lead, full)
				}
				outs = append(outs, o)
				if slices.Contains(tt.withdrawn, i) {
					o.withdraw()
				} else if n != tooLarge {
					want = append(want, o.wire)
				}
			}
			s.q.Drain(writeAll)
			if !s.q.Idle() {
				t.Fatal("queue not idle after the drain")
			}
			if got := dnstest.Queued(t, pc); !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("server got %d datagrams, want %d", len(got), len(want))
			}
			for i, o := range outs {
				failed := tt.sizes[i] == tooLarge
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
