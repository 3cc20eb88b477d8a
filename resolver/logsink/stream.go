package logsink

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// streamBatch is how many bytes of messages go out in one write.
const streamBatch = 64 << 10

// runStream sends octet-counted RFC 5424 messages over TCP or, with tc,
// TLS (RFC 5425), reconnecting with backoff. A batch whose write fails is
// sent again on the next connection, so a record may arrive twice but is
// never silently lost while the queue has room.
func (s *Sink) runStream(addr string, tc *tls.Config) {
	f := newSyslogFormat(&s.cfg)
	var (
		c       *streamConn
		bo      = s.backoff()
		buf     []byte
		msg     []byte
		failing bool
	)
	defer func() {
		if c != nil {
			c.close()
		}
		s.m.up.Set(0)
	}()
	fail := func(what string, err error) {
		s.m.up.Set(0)
		if !failing {
			s.logger.Warn("log sink: "+what+"; records queue and are retried", "addr", addr, "err", err)
			failing = true
		}
	}
	for {
		line, ok := s.next()
		if !ok {
			return
		}
		n := 0
		buf = buf[:0]
		for {
			msg = f.append(msg[:0], line, s.now())
			buf = appendOctetCounted(buf, msg)
			n++
			if len(buf) >= streamBatch {
				break
			}
			if line, ok = s.pending(); !ok {
				break
			}
		}
		s.m.queued.Set(float64(len(s.ch)))
		for {
			if c == nil {
				var err error
				if c, err = s.dialStream(addr, tc); err != nil {
					c = nil
					fail("cannot connect", err)
					if !s.wait(bo.next()) {
						s.dropRest(n)
						return
					}
					s.m.retries.Inc()
					continue
				}
				bo.reset()
				s.m.up.Set(1)
				if failing {
					s.logger.Info("log sink: connected again", "addr", addr)
					failing = false
				}
			}
			if err := c.write(buf, s.now().Add(s.tm.write)); err != nil {
				c.close()
				c = nil
				fail("write failed", err)
				if s.stop.Err() != nil {
					s.dropRest(n)
					return
				}
				s.m.retries.Inc()
				continue
			}
			s.m.sent.Add(float64(n))
			s.m.up.Set(1)
			break
		}
	}
}

// streamConn is a connection to a syslog receiver. Receivers never send
// anything back, so a read that returns means the peer closed or reset the
// connection: the next write goes to a new one instead of into a socket
// whose data the kernel would discard.
type streamConn struct {
	net.Conn
	dead chan struct{}
	stop func() bool
}

func (s *Sink) dialStream(addr string, tc *tls.Config) (*streamConn, error) {
	d := &net.Dialer{Timeout: s.tm.dial}
	var (
		conn net.Conn
		err  error
	)
	if tc != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(s.stop, "tcp", addr)
	} else {
		conn, err = d.DialContext(s.stop, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &streamConn{Conn: conn, dead: make(chan struct{})}
	// Stopping the sink unblocks a write stuck on a receiver that stopped
	// reading.
	c.stop = context.AfterFunc(s.stop, func() { conn.Close() })
	go func() {
		io.Copy(io.Discard, conn)
		s.m.up.Set(0)
		close(c.dead)
	}()
	return c, nil
}

func (c *streamConn) write(b []byte, deadline time.Time) error {
	select {
	case <-c.dead:
		return errPeerClosed
	default:
	}
	c.SetWriteDeadline(deadline)
	_, err := c.Write(b)
	return err
}

var errPeerClosed = errors.New("the receiver closed the connection")

func (c *streamConn) close() {
	c.stop()
	c.Conn.Close()
}

// runDatagram sends one RFC 5424 message per UDP datagram (RFC 5426).
// UDP tells nothing of delivery; a send that fails at once (no route, an
// ICMP refusal of an earlier datagram) is counted as send_failed.
func (s *Sink) runDatagram(addr string) {
	f := newSyslogFormat(&s.cfg)
	var (
		conn net.Conn
		bo   = s.backoff()
		msg  []byte
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
		s.m.up.Set(0)
	}()
	for {
		line, ok := s.next()
		if !ok {
			return
		}
		for conn == nil {
			var err error
			if conn, err = (&net.Dialer{Timeout: s.tm.dial}).DialContext(s.stop, "udp", addr); err != nil {
				conn = nil
				s.m.up.Set(0)
				s.logger.Warn("log sink: cannot open the UDP socket", "addr", addr, "err", err)
				if !s.wait(bo.next()) {
					s.dropRest(1)
					return
				}
			}
		}
		bo.reset()
		msg = f.append(msg[:0], line, s.now())
		if _, err := conn.Write(msg); err != nil {
			s.m.send.Inc()
			s.m.up.Set(0)
			continue
		}
		s.m.up.Set(1)
		s.m.sent.Inc()
		s.m.queued.Set(float64(len(s.ch)))
	}
}
