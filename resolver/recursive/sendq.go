package recursive

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/bulwark-dns/bulwark/internal/burst"
	"github.com/bulwark-dns/bulwark/internal/udpsock"
)

// sendQueue writes the UDP queries of a Resolver's exchanges back to back,
// a burst at a time (internal/burst), instead of each from its own
// goroutine between the others' work.
//
// On loopback, and on any host where the authoritative servers share the
// cores, a write wakes the receiving server when it sleeps, and the
// wake-up is most of the write's cost. The cold misses of one UDP read
// batch reached their writes one at a time, each after its own parse,
// cache lookup, delegation walk and socket, so NSD was woken 0.68 times
// per cold miss against Unbound's 0.33, which reads up to 100 client
// queries per wake-up and sends their upstream queries together
// (docs/ARCHITECTURE.md, "The recursive resolver's upstream sockets").
// Each query keeps its own fresh socket (RFC 5452's random source port
// per query): only the moment of the write moves.
type sendQueue struct {
	q burst.Queue[*outbound] // q.Max is sendBurst (New sets it)
}

// sendBurst bounds how many queries wait for the leader of a burst: as
// many as one UDP read batch of the listener brings (resolver's
// udpBatch), so that a query waits for at most that many others' work
// to reach their writes, however long the leader's yield lasts on a
// loaded processor.
const sendBurst = 32

// outbound is one query waiting in a sendQueue.
type outbound struct {
	sock  udpsock.Sock
	wire  []byte        // the query: buf's, unless larger
	ready chan struct{} // the exchange's udpsock.Wait: woken if the write fails
	state atomic.Uint32
	err   error // the write's error; read only once state is sendWritten
	buf   [maxQueryLen]byte
}

// maxQueryLen is the longest query packQuery makes: the header, the
// longest name, type and class, our OPT.
const maxQueryLen = 12 + 255 + 4 + 11

// outbounds recycles the outbounds whose query was written: the writer
// is done with one once it has said so (sendWritten). One withdrawn
// before its write is left to the collector, since a burst's writer may
// still look at its state.
var outbounds = sync.Pool{New: func() any { return new(outbound) }}

// The states of an outbound. Only the writer moves it out of sendQueued
// to sendWriting, and only the exchange to sendWithdrawn, so that the
// socket is never closed (and its descriptor number reused) while the
// writer may still write on it.
const (
	sendQueued uint32 = iota
	sendWriting
	sendWritten
	sendWithdrawn
)

// queue has wire written on sock, by this call if it leads the burst (with
// whatever was queued meanwhile) or else by the call that does; ready is
// woken if the write fails. The caller must call withdraw before it
// closes sock, and not use o after; wire is copied.
func (s *sendQueue) queue(sock udpsock.Sock, wire []byte, ready chan struct{}) *outbound {
	o := outbounds.Get().(*outbound)
	o.sock, o.ready, o.err = sock, ready, nil
	o.wire = append(o.buf[:0], wire...)
	o.state.Store(sendQueued)
	switch lead, full := s.q.Add(o); {
	case lead:
		s.q.Drain(writeAll)
	case full:
		s.q.Flush(writeAll)
	}
	return o
}

// writeAll writes the queries of a burst that are still wanted. The
// leader and a flusher may run it at once, on different queries.
func writeAll(os []*outbound) {
	for _, o := range os {
		if !o.state.CompareAndSwap(sendQueued, sendWriting) {
			continue // withdrawn: the exchange has ended
		}
		o.err = o.sock.Write(o.wire)
		if o.err != nil {
			select { // before the state: a written one may recycle ready
			case o.ready <- struct{}{}:
			default:
			}
		}
		o.state.Store(sendWritten)
	}
}

// failed is the write's error once it has been made; nil before.
func (o *outbound) failed() error {
	if o.state.Load() == sendWritten {
		return o.err
	}
	return nil
}

// withdraw ends o: a query not yet written never will be, and one being
// written is waited for, so that the socket can be closed after. A
// written one goes back to outbounds: o must not be used after.
func (o *outbound) withdraw() {
	if o.state.CompareAndSwap(sendQueued, sendWithdrawn) {
		return
	}
	for o.state.Load() == sendWriting { // a few microseconds at most
		runtime.Gosched()
	}
	o.sock, o.wire, o.ready, o.err = udpsock.Sock{}, nil, nil, nil
	outbounds.Put(o)
}
