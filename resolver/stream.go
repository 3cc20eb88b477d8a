package resolver

import (
	"bufio"
	"context"
	"crypto/tls"
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

// serveStream accepts TCP or DoT connections from so until it is closed.
// so.ln is a limitListener, so connections past max_tcp_conns never get
// here.
func (s *Server) serveStream(so *socket) {
	defer s.listeners.Done()
	for {
		c, err := so.ln.Accept()
		if err != nil {
			if isClosed(err) || s.done(so) {
				return
			}
			s.logger.Debug("accept", "proto", so.proto.String(), "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: don't spin
			continue
		}
		if !s.track(c, so) {
			c.Close()
			continue
		}
		s.listeners.Add(1)
		go s.serveConn(c, so)
	}
}

// track registers c, accepted on so, for shutdown and retirement; false
// once either has begun.
func (s *Server) track(c net.Conn, so *socket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done(so) {
		return false
	}
	s.conns[c] = so
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// serveConn reads length-prefixed queries from c (RFC 1035 §4.2.2) until the
// client closes, goes idle for TCPIdleTimeout, trickles a query for longer
// than TCPReadTimeout, reaches TCPMaxQueries, or the server shuts down (or
// a reload removes so). Queries are answered concurrently and out of order,
// as RFC 7766 allows. The limits are those in force at each query.
func (s *Server) serveConn(c net.Conn, so *socket) {
	proto := so.proto
	defer s.listeners.Done()
	var (
		wmu     sync.Mutex
		pending sync.WaitGroup
		slots   = make(chan struct{}, tcpPipeline)
	)
	defer func() {
		pending.Wait()
		s.untrack(c)
		c.Close()
	}()
	client := remoteAddrPort(c)
	var id string // the tenant id of the TLS server name
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(s.ctx, s.settings().TCPIdleTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.logger.Debug("tls handshake", "client", client.String(), "err", err)
			return
		}
		id = s.sniID(tc.ConnectionState().ServerName)
	}
	r := bufio.NewReaderSize(c, 4096)
	var lenbuf [2]byte
	refused := outsideACL(c)
	for queries := 0; ; queries++ {
		cfg := s.settings()
		if cfg.TCPMaxQueries > 0 && queries >= cfg.TCPMaxQueries || refused && queries >= 1 {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(cfg.TCPIdleTimeout))
		if s.done(so) {
			return
		}
		b, err := r.ReadByte()
		if err != nil {
			return
		}
		lenbuf[0] = b
		// The rest of the query must follow promptly.
		_ = c.SetReadDeadline(time.Now().Add(cfg.TCPReadTimeout))
		if _, err := io.ReadFull(r, lenbuf[1:]); err != nil {
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
		s.workers.Go(func() {
			defer func() { <-slots; pending.Done(); s.release() }()
			op := packetPool.Get().(*[]byte)
			defer packetPool.Put(op)
			// Room for the length prefix in front of the answer.
			out := s.h.serve(s.ctx, (*bp)[:n], client, proto, id, (*op)[2:2])
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
		})
	}
}

func remoteAddrPort(c net.Conn) netip.AddrPort {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap
}

// limitListener closes connections past max open at once (counting TCP,
// DoT and DoH together through a shared counter), so that idle or slow
// clients cannot exhaust file descriptors; unlike a blocking limiter, the
// accept queue keeps moving and the excess client learns at once.
type limitListener struct {
	net.Listener
	s *Server
}

func (l limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		r := l.s.h.cur.Load()
		client := remoteAddrPort(c).Addr()
		key := clientKey(client)
		perClient := r.cfg.MaxTCPConnsPerClient
		if !l.s.clients.acquire(key, perClient) {
			l.s.metrics.countTCPRejected()
			c.Close()
			continue
		}
		if int(l.s.open.Add(1)) > r.cfg.MaxTCPConns {
			l.s.open.Add(-1)
			l.s.clients.release(key)
			l.s.metrics.countTCPRejected()
			c.Close()
			continue
		}
		cc := &countedConn{Conn: c, s: l.s, key: key}
		if !r.pipe.Admits(client) {
			// Outside the ACL: one query's worth of life, then closed,
			// however many queries it sends (each one would restart an
			// idle timer and hold the slot forever).
			cc.until = time.Now().Add(refusedGrace(&r.cfg))
			_ = c.SetDeadline(cc.until)
		}
		return cc, nil
	}
}

// countedConn gives its slots back once, however often it is closed.
type countedConn struct {
	net.Conn
	s    *Server
	key  netip.Addr // the client, for the per-client count
	once sync.Once
	// until is the end of life of a connection from outside the ACL
	// (zero: an admitted client).
	until time.Time
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.s.open.Add(-1)
		c.s.clients.release(c.key)
	})
	return c.Conn.Close()
}
