package recursive

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// sendQueue writes the UDP queries of a Resolver's exchanges back to back,
// a burst at a time, instead of each from its own goroutine between the
// others' work.
//
// Why: on loopback (and on any host where the authoritative servers share
// the cores) a write wakes the receiving server when it sleeps, and the
// wake-up is most of the write's cost (sock_def_readable, an IPI). The
// cold misses of one UDP read batch reached their writes one at a time,
// each after its own parse, cache lookup, delegation walk and socket, so
// the server had gone back to sleep between two of our queries: NSD was
// woken 0.68 times per cold miss, against 0.33 for Unbound, which reads up
// to 100 client queries per wake-up and sends their upstream queries
// together (docs/ARCHITECTURE.md, "The recursive resolver's upstream
// sockets"). Queued here, the queries of a burst leave within a few
// microseconds of each other, and a server woken by the first finds the
// rest already queued.
//
// The first exchange to find the queue idle writes the burst, its own
// query and those queued meanwhile, after it yields: runtime.Gosched puts
// it on the global run queue, which the scheduler takes from only once the
// processor's local queue is empty (or every 61st round), so it resumes
// after the other goroutines the read batch made runnable have reached
// their own writes. Alone, it resumes at once. (A flusher goroutine of its
// own would cost a goroutine start and a hand-off per burst, which a lone
// exchange pays in full.) Each query keeps its own fresh socket (RFC 5452's
// random source port per query): only the moment of the write moves.
type sendQueue struct {
	mu      sync.Mutex
	pending []*outbound
	spare   []*outbound // the flusher's last batch, emptied, for reuse
	running bool        // a flusher runs or is about to
}

// outbound is one query waiting in a sendQueue.
type outbound struct {
	sock  udpSock
	wire  []byte
	ready chan struct{} // the exchange's replyWait: woken if the write fails
	state atomic.Uint32
	err   error // the write's error; read only once state is sendWritten
}

// The states of an outbound. Only the flusher moves it out of sendQueued
// to sendWriting, and only the exchange to sendWithdrawn, so that the
// socket is never closed (and its descriptor number reused) while the
// flusher may still write on it.
const (
	sendQueued uint32 = iota
	sendWriting
	sendWritten
	sendWithdrawn
)

// queue has wire written on sock, by this call if the queue was idle (with
// whatever was queued meanwhile) or else by the call writing the burst;
// ready is woken if the write fails. The caller must call withdraw before
// it closes sock, and keep wire unchanged until then.
func (q *sendQueue) queue(sock udpSock, wire []byte, ready chan struct{}) *outbound {
	o := &outbound{sock: sock, wire: wire, ready: ready}
	q.mu.Lock()
	q.pending = append(q.pending, o)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		q.flush()
	}
	return o
}

// flush writes the queued queries, burst after burst, until none is left;
// q.running is set, and only its caller flushes.
func (q *sendQueue) flush() {
	runtime.Gosched() // let the rest of the burst queue theirs (see sendQueue)
	for {
		q.mu.Lock()
		batch := q.pending
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.pending, q.spare = q.spare, nil
		q.mu.Unlock()
		for _, o := range batch {
			if !o.state.CompareAndSwap(sendQueued, sendWriting) {
				continue // withdrawn: the exchange has ended
			}
			o.err = o.sock.write(o.wire)
			if o.err != nil {
				select { // before the state: a written one may recycle ready
				case o.ready <- struct{}{}:
				default:
				}
			}
			o.state.Store(sendWritten)
		}
		clear(batch)
		q.mu.Lock()
		q.spare = batch[:0]
		q.mu.Unlock()
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
// written is waited for, so that the socket can be closed after.
func (o *outbound) withdraw() {
	if o.state.CompareAndSwap(sendQueued, sendWithdrawn) {
		return
	}
	for o.state.Load() == sendWriting { // a few microseconds at most
		runtime.Gosched()
	}
}
