package resolver

import (
	"net/netip"
	"runtime"
	"sync"
)

// answerQueue sends the workers' UDP answers of one socket back to back,
// a burst at a time in sendmmsg batches, rather than one sendto from
// each worker between the others' work.
//
// Why: on a host where the clients share the cores (loopback under
// dnsperf, a stub resolver on the same machine, a balancer on the same
// host), delivering a datagram wakes the receiver when it sleeps, and the
// wake-up is most of the send's cost: perf under bench/recursive's coldsat
// put the answers' sendto, almost all of it sock_def_readable waking
// dnsperf, at 14% of the resolver's CPU once the upstream queries left
// together (resolver/recursive/sendq.go, which does the same for them).
// Sent together, a client woken by the first finds the rest queued, and
// the burst pays one system call.
//
// The first worker to find the queue idle writes the burst after it
// yields once: runtime.Gosched puts it behind every goroutine already
// runnable (the other answers of the burst, which queue theirs
// meanwhile). Alone, it resumes at once. The fast path's answers still
// leave with their read batch (serveUDP).
type answerQueue struct {
	mu      sync.Mutex
	pending []queuedAnswer
	spare   []queuedAnswer // the last burst, emptied, for reuse
	running bool           // a worker is writing a burst
	bc      batchConn      // made on first use; only the writing worker uses it
	out     [udpBatch]udpMsg
}

// queuedAnswer is one answer: buf's contents, from the pooled buffer bp,
// which goes back to the pool once sent.
type queuedAnswer struct {
	bp   *[]byte
	buf  []byte
	addr netip.AddrPort
}

// sendAnswer has buf (in the pooled buffer bp, which the queue returns to the
// pool) sent to addr on so's socket: by this call if the queue was idle,
// with whatever was queued meanwhile, or else by the call writing the
// burst. The caller must hold a count of so.answers until it returns, so
// that the socket stays open until the burst is written.
func (s *Server) sendAnswer(so *socket, bp *[]byte, buf []byte, addr netip.AddrPort) {
	q := &so.replies
	q.mu.Lock()
	q.pending = append(q.pending, queuedAnswer{bp: bp, buf: buf, addr: addr})
	lead := !q.running
	q.running = true
	q.mu.Unlock()
	if !lead {
		return
	}
	runtime.Gosched() // let the rest of the burst queue theirs
	if q.bc == nil {
		q.bc = newBatchConn(so.udp)
	}
	for {
		q.mu.Lock()
		burst := q.pending
		if len(burst) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.pending, q.spare = q.spare, nil
		q.mu.Unlock()
		for rest := burst; len(rest) > 0; {
			n := min(len(rest), len(q.out))
			for i := range n {
				q.out[i] = udpMsg{buf: rest[i].buf, addr: rest[i].addr}
			}
			s.writeBatch(q.bc, q.out[:n])
			for i := range n {
				udpPool.Put(rest[i].bp)
				q.out[i] = udpMsg{}
			}
			rest = rest[n:]
		}
		clear(burst)
		q.mu.Lock()
		q.spare = burst[:0]
		q.mu.Unlock()
	}
}
