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

// serveUDP reads queries from uc until it is closed, answering each in its
// own goroutine so that a slow upstream never stalls the socket.
func (s *Server) serveUDP(uc *net.UDPConn) {
	defer s.listeners.Done()
	for {
		bp := packetPool.Get().(*[]byte)
		n, client, err := uc.ReadFromUDPAddrPort(*bp)
		if err != nil {
			packetPool.Put(bp)
			if isClosed(err) || s.closing.Load() {
				return
			}
			s.logger.Debug("udp read", "err", err)
			continue
		}
		if s.fast != nil && s.answerFast(uc, (*bp)[:n], client) {
			packetPool.Put(bp)
			continue
		}
		if !s.acquire() {
			packetPool.Put(bp)
			continue
		}
		go s.answerUDP(uc, bp, n, client)
	}
}

func (s *Server) answerUDP(uc *net.UDPConn, bp *[]byte, n int, client netip.AddrPort) {
	defer s.release()
	op := packetPool.Get().(*[]byte)
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	out := s.h.serve(s.ctx, (*bp)[:n], from, ProtoUDP, (*op)[:0])
	packetPool.Put(bp)
	if out != nil {
		if _, err := uc.WriteToUDPAddrPort(out, client); err != nil && !isClosed(err) {
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
	if s.fast != nil {
		if out, ok := s.fast.answer(pkt, client, make([]byte, 0, 512), s.metrics, s.h.observer.Load()); ok {
			if len(out) == 0 {
				return nil // the drop action
			}
			return out
		}
	}
	return s.h.serve(ctx, pkt, client, ProtoUDP, make([]byte, 0, 512))
}

// answerFast answers pkt inline on the reader goroutine if the fast path
// can; false sends it down the chain.
func (s *Server) answerFast(uc *net.UDPConn, pkt []byte, client netip.AddrPort) bool {
	op := packetPool.Get().(*[]byte)
	defer packetPool.Put(op)
	from := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	out, ok := s.fast.answer(pkt, from, (*op)[:0], s.metrics, s.h.observer.Load())
	if !ok {
		return false
	}
	if len(out) == 0 { // the drop action
		return true
	}
	if _, err := uc.WriteToUDPAddrPort(out, client); err != nil && !isClosed(err) {
		s.logger.Debug("udp write", "client", client.String(), "err", err)
	}
	return true
}
