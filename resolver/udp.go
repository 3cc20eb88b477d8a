package resolver

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// packetPool recycles read buffers: a query is at most 64 KiB on the wire,
// but over UDP we never need more than a large EDNS payload.
var packetPool = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// udpBatch is how many datagrams one recvmmsg/sendmmsg call moves. On
// loopback under load the two system calls per query were half of the
// server's CPU time; batching pays their fixed cost once per batch.
const udpBatch = 32

// batchConn is the recvmmsg/sendmmsg side of a UDP socket (x/net's ipv4 and
// ipv6 PacketConn; elsewhere than Linux they move one datagram a call).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(uc *net.UDPConn) batchConn {
	if a, ok := uc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		return ipv6.NewPacketConn(uc)
	}
	return ipv4.NewPacketConn(uc)
}

// serveUDP reads queries from so's UDP socket, a batch at a time, until it
// is closed or retired. The fast path answers on this goroutine, and its
// answers leave together in one batch; every other query is answered in
// a worker goroutine of its own, so that a slow upstream never stalls the
// socket.
func (s *Server) serveUDP(so *socket) {
	defer s.listeners.Done()
	defer so.readers.Done()
	uc := so.udp
	bc := newBatchConn(uc)
	var (
		in   [udpBatch]ipv4.Message
		bufs [udpBatch]*[]byte // the read buffer of each slot
		out  [udpBatch]ipv4.Message
		obuf [udpBatch]*[]byte // the answer buffer of each slot
	)
	for i := range obuf {
		obuf[i] = packetPool.Get().(*[]byte)
	}
	defer func() {
		for i := range udpBatch {
			if bufs[i] != nil {
				packetPool.Put(bufs[i])
			}
			packetPool.Put(obuf[i])
		}
	}()
	for {
		for i := range in {
			if bufs[i] == nil {
				bufs[i] = packetPool.Get().(*[]byte)
				in[i].Buffers = [][]byte{*bufs[i]}
			}
		}
		n, err := bc.ReadBatch(in[:], 0)
		if err != nil {
			if isClosed(err) || s.done(so) {
				return
			}
			s.logger.Debug("udp read", "err", err)
			continue
		}
		// The pipeline in force, read once per batch: a reload swaps it
		// between two batches.
		cur := s.h.cur.Load()
		pipe, pp := cur.pipe, cur.proxy
		nout := 0
		for i := range n {
			ua, ok := in[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			client := ua.AddrPort()
			pkt := (*bufs[i])[:in[i].N]
			reply, off := client, 0
			if pp != nil { // a trusted balancer's header names the client
				c, payload, ok := pp.Datagram(client, pkt)
				if !ok {
					continue
				}
				client, off, pkt = c, len(pkt)-len(payload), payload
			}
			from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
			if ans, handled := pipe.AnswerFast(pkt, from, (*obuf[nout])[:0]); handled {
				if len(ans) > 0 { // a drop sends nothing
					out[nout].Buffers = [][]byte{ans}
					out[nout].Addr = ua
					nout++
				}
				continue
			}
			if !s.acquire() {
				continue
			}
			so.answers.Add(1)
			bp, n := bufs[i], in[i].N
			s.workers.Go(func() { s.answerUDP(so, bp, off, n, client, reply) })
			bufs[i] = nil // the goroutine returns it to the pool
		}
		for sent := 0; sent < nout; {
			k, err := bc.WriteBatch(out[sent:nout], 0)
			if err != nil {
				if !isClosed(err) {
					s.logger.Debug("udp write", "err", err)
				}
				// Skip the datagram that failed (e.g. an unreachable
				// client) and send the rest.
				k++
			} else if k == 0 {
				break // nothing moved and no error: do not spin
			}
			sent += k
		}
	}
}

// answerUDP answers the query in (*bp)[off:n] from client; the answer goes
// to reply, which is the balancer when a PROXY header named the client.
func (s *Server) answerUDP(so *socket, bp *[]byte, off, n int, client, reply netip.AddrPort) {
	defer s.release()
	defer so.answers.Done()
	op := packetPool.Get().(*[]byte)
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	out := s.h.serve(s.ctx, (*bp)[off:n], from, query.ProtoUDP, "", (*op)[:0])
	packetPool.Put(bp)
	if out != nil {
		if _, err := so.udp.WriteToUDPAddrPort(out, reply); err != nil && !isClosed(err) {
			s.logger.Debug("udp write", "client", client.String(), "err", err)
		}
	}
	packetPool.Put(op)
}

// ServePacket answers one UDP query packet exactly as the UDP listener does
// (the fast path, or parse, chain, finish, truncate, pack) and returns the
// answer, or nil when none is sent. It exists for fuzzing and benchmarking
// the packet path without sockets.
func (s *Server) ServePacket(ctx context.Context, pkt []byte, client netip.AddrPort) []byte {
	return s.h.cur.Load().pipe.ServeUDP(ctx, pkt, client, make([]byte, 0, 512))
}
