package resolver

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// tcpPipeline bounds the queries of one connection answered at once
// (RFC 7766 §6.2.1.1 pipelining); past it, the connection is not read until
// an answer goes out, which pushes back on the client.
const tcpPipeline = 64

// tcpWriteTimeout bounds how long one answer may take to be written to a
// client that does not read.
const tcpWriteTimeout = 10 * time.Second

func (s *Server) serveTCP(tl *net.TCPListener) {
	defer s.listeners.Done()
	for {
		c, err := tl.AcceptTCP()
		if err != nil {
			if isClosed(err) || s.closing.Load() {
				return
			}
			s.logger.Debug("tcp accept", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: don't spin
			continue
		}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.listeners.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// serveConn reads length-prefixed queries from c (RFC 1035 §4.2.2) until the
// client closes, goes idle for TCPIdleTimeout, or the server shuts down.
// Queries are answered concurrently and out of order, as RFC 7766 allows.
func (s *Server) serveConn(c *net.TCPConn) {
	defer s.listeners.Done()
	client := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	var (
		wmu     sync.Mutex
		pending sync.WaitGroup
		slots   = make(chan struct{}, tcpPipeline)
	)
	defer func() {
		pending.Wait()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 4096)
	var lenbuf [2]byte
	for !s.closing.Load() {
		_ = c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		if _, err := io.ReadFull(r, lenbuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenbuf[:]))
		bp := packetPool.Get().(*[]byte)
		if _, err := io.ReadFull(r, (*bp)[:n]); err != nil {
			packetPool.Put(bp)
			return
		}
		slots <- struct{}{}
		if !s.acquire() {
			<-slots
			packetPool.Put(bp)
			continue
		}
		pending.Add(1)
		go func() {
			defer func() { <-slots; pending.Done(); s.release() }()
			op := packetPool.Get().(*[]byte)
			defer packetPool.Put(op)
			// Room for the length prefix in front of the answer.
			out := s.h.serve(s.ctx, (*bp)[:n], client, ProtoTCP, (*op)[2:2])
			packetPool.Put(bp)
			if out == nil {
				return
			}
			frame := (*op)[:len(out)+2]
			if &out[0] != &frame[2] { // packed into a new buffer
				frame = append(make([]byte, 2, len(out)+2), out...)
			}
			binary.BigEndian.PutUint16(frame, uint16(len(out)))
			wmu.Lock()
			defer wmu.Unlock()
			_ = c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
			if _, err := c.Write(frame); err != nil {
				s.logger.Debug("tcp write", "client", client.String(), "err", err)
				c.Close()
			}
		}()
	}
}
