package dnstest

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// startTLS serves DNS over TLS (RFC 7858) on host, port chosen by the
// kernel. Unlike miekg/dns's server, which answers one query per
// connection at a time, it reads on while earlier queries are being
// answered and answers each as soon as it is ready, so clients that
// pipeline (and cope with out-of-order answers) can be tested.
func (s *Server) startTLS(host string, cert tls.Certificate) {
	ln, err := tls.Listen("tcp", net.JoinHostPort(host, "0"), &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		s.t.Fatalf("dnstest: listen tls: %v", err)
	}
	s.tlsLn = ln
	s.TLSAddr = ln.Addr().String()
	s.tlsConns = make(map[net.Conn]struct{})
	s.tlsWG.Add(1)
	go func() {
		defer s.tlsWG.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.tlsMu.Lock()
			s.tlsConns[c] = struct{}{}
			s.tlsMu.Unlock()
			s.tlsWG.Add(1)
			go s.serveTLSConn(c.(*tls.Conn))
		}
	}()
}

func (s *Server) serveTLSConn(c *tls.Conn) {
	defer s.tlsWG.Done()
	var handlers sync.WaitGroup
	defer func() {
		c.Close()
		handlers.Wait()
		s.tlsMu.Lock()
		delete(s.tlsConns, c)
		s.tlsMu.Unlock()
	}()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return // e.g. the client rejected our certificate
	}
	c.SetDeadline(time.Time{})
	s.tlsHandshakes.Add(1)
	w := &streamWriter{conn: c, via: via{proto: "tls", conn: s.connSeq.Add(1)}}
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		wire := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, wire); err != nil {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return // garbage on the stream: hang up, as servers do
		}
		v := w.via
		v.size = len(wire)
		handlers.Add(1)
		go func() {
			defer handlers.Done()
			s.handle(w, m, v)
		}()
	}
}

// TLSHandshakes is the number of completed DoT handshakes so far: one per
// connection the client opened and kept.
func (s *Server) TLSHandshakes() int { return int(s.tlsHandshakes.Load()) }

// CloseTLSConns closes every open DoT connection from the server side, as
// a server's idle timeout would.
func (s *Server) CloseTLSConns() {
	s.tlsMu.Lock()
	defer s.tlsMu.Unlock()
	for c := range s.tlsConns {
		c.Close()
	}
}

// streamWriter is the dns.ResponseWriter of one query on a stream
// connection; concurrent answers on one connection are serialised.
type streamWriter struct {
	conn net.Conn
	via  via
	mu   sync.Mutex
}

func (w *streamWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *streamWriter) RemoteAddr() net.Addr { return w.conn.RemoteAddr() }
func (w *streamWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (w *streamWriter) Write(b []byte) (int, error) {
	buf := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(buf, uint16(len(b)))
	copy(buf[2:], b)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.conn.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (w *streamWriter) Close() error        { return w.conn.Close() }
func (w *streamWriter) TsigStatus() error   { return nil }
func (w *streamWriter) TsigTimersOnly(bool) {}
func (w *streamWriter) Hijack()             {}
