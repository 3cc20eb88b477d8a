package resolver

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// packetPool recycles the stream listeners' buffers: a message over TCP,
// DoT or DoH may take the whole 64 KiB its length allows.
var packetPool = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// udpReadSize is the largest UDP datagram read: a query is a question and
// an OPT (cookie, client subnet, padding), well under 1 KiB, and a trusted
// balancer's PROXY v2 header in front of it adds a few hundred bytes
// (dnsdist itself reads 1,500 bytes by default). A larger datagram arrives
// cut (MSG_TRUNC) and is dropped unread. Answers never exceed
// listen.udp_size, so the answer buffers are that large: a reader holds
// 2×udpBatch buffers and every query in a worker two, which at 64 KiB each
// was 4 MiB a socket and 128 KiB a query.
const udpReadSize = 4096

// udpPool recycles the UDP listeners' read and answer buffers; a buffer is
// used at any length up to its capacity.
var udpPool sync.Pool

// getUDPBuf returns a buffer of length n from udpPool.
func getUDPBuf(n int) *[]byte {
	if b, ok := udpPool.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

// udpBatch is how many datagrams one recvmmsg/sendmmsg call moves. On
// loopback under load the two system calls per query were half of the
// server's CPU time; batching pays their fixed cost once per batch.
const udpBatch = 32

// udpMsg is one datagram of a batch: read into buf (n bytes arrived,
// trunc when it was cut) from addr, or written from buf to addr.
type udpMsg struct {
	buf   []byte
	n     int
	trunc bool
	addr  netip.AddrPort
}

// batchConn is the recvmmsg/sendmmsg side of a UDP socket: udp_linux.go
// calls them itself, with its message headers and addresses kept between
// batches; elsewhere x/net moves one datagram a call.
type batchConn interface {
	readBatch(ms []udpMsg) (int, error)
	writeBatch(ms []udpMsg) (int, error)
}

// udpReader is one UDP read loop's batch: the datagrams read, their
// buffers, and the fast path's answers, which leave together.
type udpReader struct {
	in   [udpBatch]udpMsg
	bufs [udpBatch]*[]byte // the read buffer of each slot; nil once a worker has it
	out  [udpBatch]udpMsg
	obuf [udpBatch]*[]byte // the answer buffer of each slot
	nout int
	// handed counts the datagrams handed to a worker since the loop last
	// let the workers run; full counts the full batches read since the
	// first of them.
	handed, full int
}

// yieldEvery is how many full batches the read loop reads, with queries
// handed to workers waiting, before it lets those workers run.
//
// On one P (the server pinned to a core) a woken worker runs only once the
// read loop parks, and the loop parks only when the socket is empty: a
// batch shorter than r.in emptied it, and the next read parks. A run of
// full batches is a backlog (the core was taken by another process, or
// saturation), which the loop would read to the end, answering its hits,
// while its misses waited for the last batch or for the scheduler's 10 ms
// preemption. In a runtime trace of a 10k q/s mixed round with other load
// on the core, the goroutines the loop woke waited 0.03-1.4 ms (median) and
// 15-49 ms (p99) before they ran; yielding after every full batch cut that
// to 0.03-0.2 and 0.5-11 ms, but cost 8-11% more CPU per query at
// saturation (bench/run us/q, paired), where every batch is full. Every
// fourth full batch bounds a miss's wait to about 128 queries' work.
const yieldEvery = 4

// yield reports, after a batch of n datagrams, whether the read loop
// should let the workers run before it reads again.
func (r *udpReader) yield(n int) bool {
	if n < len(r.in) {
		r.handed, r.full = 0, 0 // the next read parks: the workers run then
		return false
	}
	if r.handed == 0 {
		r.full = 0 // nothing waits
		return false
	}
	if r.full++; r.full < yieldEvery {
		return false
	}
	r.handed, r.full = 0, 0
	return true
}

// yieldToWorkers lets the goroutines the read loop woke run before it
// reads again. One runtime.Gosched is not enough: it puts the loop on the
// global run queue, and the scheduler takes from that queue ahead of the
// processor's own every 61st schedule (its fairness check), and a goroutine
// preempted for its time slice (10 ms, which a woken goroutine inherits
// from the loop) goes there behind the loop. Either way the loop came
// straight back, before a worker had started or while its miss was on
// the hop to the cache's flight, and the miss then waited for the rest of
// the backlog: 6 runs in 100 of TestUDPMissLeavesBeforeTheBacklog under
// -race. The second Gosched puts the loop behind whatever the first let
// in, and the fairness check is 60 schedules away; alone, it costs one
// trip through the scheduler.
func yieldToWorkers() {
	runtime.Gosched()
	runtime.Gosched()
}

// serveUDP reads queries from so's UDP socket, a batch at a time, until it
// is closed or retired. The fast path answers on this goroutine, and its
// answers leave together in one batch; every other query is answered in
// a worker goroutine of its own, so that a slow upstream never stalls the
// socket.
func (s *Server) serveUDP(so *socket) {
	defer s.listeners.Done()
	defer so.readers.Done()
	bc := newBatchConn(so.udp)
	r := new(udpReader)
	defer r.release()
	for {
		r.fill(s.settings().UDPSize)
		n, err := bc.readBatch(r.in[:])
		if err != nil {
			if isClosed(err) || s.done(so) {
				return
			}
			s.logger.Debug("udp read", "err", err)
			continue
		}
		at := time.Now() // the batch's arrival, for each of its queries
		for i := range n {
			s.readUDP(so, r, i, at)
		}
		s.writeBatch(bc, r.out[:r.nout])
		r.nout = 0
		if r.yield(n) {
			yieldToWorkers()
		}
	}
}

// fill gives every slot a read buffer and an answer buffer of at least
// answerSize bytes (listen.udp_size, which a reload may raise).
func (r *udpReader) fill(answerSize int) {
	for i := range r.in {
		if r.bufs[i] == nil {
			r.bufs[i] = getUDPBuf(udpReadSize)
			r.in[i].buf = *r.bufs[i]
		}
		if r.obuf[i] == nil || cap(*r.obuf[i]) < answerSize {
			if r.obuf[i] != nil {
				udpPool.Put(r.obuf[i])
			}
			r.obuf[i] = getUDPBuf(answerSize)
		}
	}
}

// release returns the reader's buffers to the pool.
func (r *udpReader) release() {
	for i := range udpBatch {
		for _, b := range [...]*[]byte{r.bufs[i], r.obuf[i]} {
			if b != nil {
				udpPool.Put(b)
			}
		}
	}
}

// readUDP answers datagram i of r, read at at: on the fast path into r's answer batch,
// or else in a worker, which takes over its buffer. A cut datagram (larger
// than udpReadSize) is dropped.
func (s *Server) readUDP(so *socket, r *udpReader, i int, at time.Time) {
	if r.in[i].trunc {
		s.metrics.countMalformed()
		return
	}
	// The pipeline in force: a reload swaps it between two datagrams.
	cur := s.h.cur.Load()
	client := r.in[i].addr
	pkt := (*r.bufs[i])[:r.in[i].n]
	reply, off := client, 0
	if cur.proxy != nil { // a trusted balancer's header names the client
		c, payload, ok := cur.proxy.Datagram(client, pkt)
		if !ok {
			return
		}
		client, off, pkt = c, len(pkt)-len(payload), payload
	}
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	if ans, handled := cur.pipe.AnswerFastAt(pkt, from, (*r.obuf[r.nout])[:0], at); handled {
		if len(ans) > 0 { // a drop sends nothing
			r.out[r.nout].buf = ans
			r.out[r.nout].addr = r.in[i].addr
			r.nout++
		}
		return
	}
	if !s.acquire() {
		return
	}
	so.answers.Add(1)
	bp, n := r.bufs[i], r.in[i].n
	s.workers.Go(func() { s.answerUDP(so, bp, off, n, client, reply) })
	r.bufs[i] = nil // the goroutine returns it to the pool
	r.handed++
}

// writeBatch sends the fast path's answers, skipping any that fails.
func (s *Server) writeBatch(bc batchConn, out []udpMsg) {
	for sent := 0; sent < len(out); {
		k, err := bc.writeBatch(out[sent:])
		if err != nil {
			if !isClosed(err) {
				s.logger.Debug("udp write", "err", err)
			}
			// Skip the datagram that failed (e.g. an unreachable
			// client) and send the rest.
			k++
		} else if k == 0 {
			return // nothing moved and no error: do not spin
		}
		sent += k
	}
}

// answerUDP answers the query in (*bp)[off:n] from client; the answer goes
// to reply, which is the balancer when a PROXY header named the client.
func (s *Server) answerUDP(so *socket, bp *[]byte, off, n int, client, reply netip.AddrPort) {
	defer s.release()
	defer so.answers.Done()
	op := getUDPBuf(s.settings().UDPSize)
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	out := s.h.serve(s.ctx, (*bp)[off:n], from, query.ProtoUDP, "", (*op)[:0])
	udpPool.Put(bp)
	if out == nil {
		udpPool.Put(op)
		return
	}
	s.sendAnswer(so, op, out, reply) // with the rest of its burst; op goes back once sent
}

// ServePacket answers one UDP query packet exactly as the UDP listener does
// (the fast path, or parse, chain, finish, truncate, pack) and returns the
// answer, or nil when none is sent. It exists for fuzzing and benchmarking
// the packet path without sockets.
func (s *Server) ServePacket(ctx context.Context, pkt []byte, client netip.AddrPort) []byte {
	return s.h.cur.Load().pipe.ServeUDP(ctx, pkt, client, make([]byte, 0, 512))
}
