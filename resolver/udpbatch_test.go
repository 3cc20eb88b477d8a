package resolver

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// TestReadLoopYield: the read loop lets the workers run after yieldEvery
// full batches counted from the first that handed one a query, and never
// when a batch came short (the next read parks and they run then) or
// nothing waits.
func TestReadLoopYield(t *testing.T) {
	type batch struct{ n, handed int }
	full := func(handed int) batch { return batch{udpBatch, handed} }
	tests := []struct {
		name    string
		batches []batch
		want    []bool // one per batch
	}{
		{"short batches never", []batch{{3, 1}, {1, 1}, {31, 2}}, []bool{false, false, false}},
		{"full batches with nothing handed never", []batch{full(0), full(0), full(0), full(0), full(0)},
			[]bool{false, false, false, false, false}},
		{"the fourth full batch since a hand-off", []batch{full(0), full(1), full(0), full(0), full(0), full(0)},
			[]bool{false, false, false, false, true, false}},
		{"every fourth while the backlog lasts", []batch{full(1), full(1), full(1), full(1), full(1), full(1), full(1), full(1)},
			[]bool{false, false, false, true, false, false, false, true}},
		{"a short batch starts over", []batch{full(1), full(0), {5, 0}, full(1), full(0), full(0), full(0)},
			[]bool{false, false, false, false, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r udpReader
			for i, b := range tt.batches {
				r.handed += b.handed // as readUDP counts them
				if got := r.yield(b.n); got != tt.want[i] {
					t.Fatalf("batch %d (%d datagrams, %d handed): yield %v, want %v", i, b.n, b.handed, got, tt.want[i])
				}
			}
		})
	}
}

// TestAnswerQueueBurst: answers handed to a socket's answer queue from
// many workers at once all reach their clients, once each, in bursts
// larger than one sendmmsg batch too, and one that cannot be sent (to
// port 0) does not keep the others back. sendAnswer returns only once
// its burst is written when it led it, so after every sender has
// returned the clients' sockets hold everything sent (loopback delivers
// within the system call).
func TestAnswerQueueBurst(t *testing.T) {
	tests := []struct {
		name         string
		workers, per int
		bad          bool // one more answer, to port 0, among them
	}{
		{"one", 1, 1, false},
		{"one worker, more than a batch", 1, udpBatch + 9, false},
		{"many workers", 8, 20, false},
		{"one unsendable among many", 4, 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cl, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if err := cl.SetReadBuffer(1 << 20); err != nil {
				t.Fatal(err)
			}
			s := &Server{logger: slog.New(slog.DiscardHandler)}
			so := &socket{udp: srv}
			to := cl.LocalAddr().(*net.UDPAddr).AddrPort()
			var wg sync.WaitGroup
			for w := range tt.workers {
				wg.Go(func() {
					for i := range tt.per {
						bp := getUDPBuf(16)
						b := fmt.Appendf((*bp)[:0], "%d/%d", w, i)
						s.sendAnswer(so, bp, b, to)
						if tt.bad && w == 0 && i == tt.per/2 {
							s.sendAnswer(so, getUDPBuf(1), []byte{0}, netip.AddrPortFrom(to.Addr(), 0))
						}
					}
				})
			}
			wg.Wait()
			if !so.replies.q.Idle() {
				t.Fatal("queue not idle after the senders")
			}
			got := map[string]int{}
			for _, d := range dnstest.Queued(t, cl) {
				got[string(d)]++
			}
			if len(got) != tt.workers*tt.per {
				t.Fatalf("client got %d distinct answers, want %d", len(got), tt.workers*tt.per)
			}
			for k, n := range got {
				if n != 1 {
					t.Fatalf("answer %q arrived %d times", k, n)
				}
			}
		})
	}
}
