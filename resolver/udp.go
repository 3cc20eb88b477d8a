package resolver

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// packetPool recycles read buffers: a query is at most 64 KiB on the wire,
// but over UDP we never need more than a large EDNS payload.
var packetPool = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// serveUDP reads queries from so's UDP socket until it is closed or
// retired, answering each in its own goroutine so that a slow upstream
// never stalls the socket.
func (s *Server) serveUDP(so *socket) {
	defer s.listeners.Done()
	defer so.readers.Done()
	uc := so.udp
	for {
		bp := packetPool.Get().(*[]byte)
		n, client, err := uc.ReadFromUDPAddrPort(*bp)
		if err != nil {
			packetPool.Put(bp)
			if isClosed(err) || s.done(so) {
				return
			}
			s.logger.Debug("udp read", "err", err)
			continue
		}
		// The fast path of the configuration in force, read once per
		// packet: a reload swaps it between two packets.
		if fp := s.h.cur.Load().fast; fp != nil && s.answerFast(fp, uc, (*bp)[:n], client) {
			packetPool.Put(bp)
			continue
		}
		if !s.acquire() {
			packetPool.Put(bp)
			continue
		}
		so.answers.Add(1)
		go s.answerUDP(so, bp, n, client)
	}
}

func (s *Server) answerUDP(so *socket, bp *[]byte, n int, client netip.AddrPort) {
	defer s.release()
	defer so.answers.Done()
	op := packetPool.Get().(*[]byte)
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	out := s.h.serve(s.ctx, (*bp)[:n], from, ProtoUDP, (*op)[:0])
	packetPool.Put(bp)
	if out != nil {
		if _, err := so.udp.WriteToUDPAddrPort(out, client); err != nil && !isClosed(err) {
			s.logger.Debug("udp write", "client", client.String(), "err", err)
		}
	}
	packetPool.Put(op)
}

// ServePacket answers one UDP query packet exactly as the UDP listener does
// (parse, chain, finish, truncate, pack) and returns the answer, or nil
// when none is sent. It exists for fuzzing and benchmarking the packet path
// without sockets.
func (s *Server) ServePacket(ctx context.Context, pkt []byte, client netip.AddrPort) []byte {
	if fp := s.h.cur.Load().fast; fp != nil {
		if out, ok := fp.answer(pkt, client, make([]byte, 0, 512), s.metrics, s.h.observer.Load()); ok {
			if len(out) == 0 { // a drop
				return nil
			}
			return out
		}
	}
	return s.h.serve(ctx, pkt, client, ProtoUDP, make([]byte, 0, 512))
}

// answerFast answers pkt inline on the reader goroutine if the fast path
// can; false sends it down the chain.
func (s *Server) answerFast(fp *FastPath, uc *net.UDPConn, pkt []byte, client netip.AddrPort) bool {
	op := packetPool.Get().(*[]byte)
	defer packetPool.Put(op)
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	out, ok := fp.answer(pkt, from, (*op)[:0], s.metrics, s.h.observer.Load())
	if !ok {
		return false
	}
	if len(out) == 0 { // answered with silence (drop)
		return true
	}
	if _, err := uc.WriteToUDPAddrPort(out, client); err != nil && !isClosed(err) {
		s.logger.Debug("udp write", "client", client.String(), "err", err)
	}
	return true
}
