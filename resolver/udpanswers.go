package resolver

import (
	"net/netip"
	"sync"

	"github.com/bulwark-dns/bulwark/internal/burst"
)

// answerQueue sends the workers' UDP answers of one socket back to back,
// a burst at a time (internal/burst) in sendmmsg batches, rather than one
// sendto from each worker between the others' work.
//
// On a host where the clients share the cores (loopback under dnsperf, a
// stub on the same machine, a balancer on the same host), delivering a
// datagram wakes the receiver when it sleeps, and the wake-up is most of
// the send's cost: perf under bench/recursive's coldsat put the answers'
// sendto, almost all of it sock_def_readable waking dnsperf, at 14% of
// the resolver's CPU once the upstream queries left together
// (resolver/recursive/sendq.go). The fast path's answers still leave with
// their read batch (serveUDP).
type answerQueue struct {
	q burst.Queue[queuedAnswer] // q.Max is udpBatch (openSocketWith sets it)

	mu  sync.Mutex // held by whoever sends: the leader, or a flusher of a full batch
	bc  batchConn  // made on first use
	out [udpBatch]udpMsg
}

// queuedAnswer is one answer: buf's contents, from the pooled buffer bp,
// which goes back to the pool once sent.
type queuedAnswer struct {
	bp   *[]byte
	buf  []byte
	addr netip.AddrPort
}

// sendAnswer has buf (in the pooled buffer bp, which goes back to the
// pool once sent) sent to addr on so's socket: by this call if it leads
// the burst, with whatever was queued meanwhile, or else by the call that
// does (the leader, or one flushing a full batch). The caller must hold
// a count of so.answers until it returns: every answer queued is then
// sent by a caller still holding its count, so the socket stays open
// until the last is written.
func (s *Server) sendAnswer(so *socket, bp *[]byte, buf []byte, addr netip.AddrPort) {
	aq := &so.replies
	switch lead, full := aq.q.Add(queuedAnswer{bp: bp, buf: buf, addr: addr}); {
	case lead:
		aq.q.Drain(func(as []queuedAnswer) { s.sendAnswers(so, as) })
	case full: // a sendmmsg batch waits: it goes now
		aq.q.Flush(func(as []queuedAnswer) { s.sendAnswers(so, as) })
	}
}

// sendAnswers sends as on so's socket, in sendmmsg batches.
func (s *Server) sendAnswers(so *socket, as []queuedAnswer) {
	aq := &so.replies
	aq.mu.Lock()
	defer aq.mu.Unlock()
	if aq.bc == nil {
		aq.bc = newBatchConn(so.udp)
	}
	for len(as) > 0 {
		n := min(len(as), len(aq.out))
		for i := range n {
			aq.out[i] = udpMsg{buf: as[i].buf, addr: as[i].addr}
		}
		s.writeBatch(aq.bc, aq.out[:n])
		for i := range n {
			udpPool.Put(as[i].bp)
			aq.out[i] = udpMsg{}
		}
		as = as[n:]
	}
}
