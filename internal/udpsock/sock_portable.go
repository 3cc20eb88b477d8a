//go:build !linux || bulwark_portable

package udpsock

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Sock is the socket of one UDP exchange where there are no raw system
// calls and no epoll: a connected net.UDPConn (the kernel binds it to a
// random ephemeral port, RFC 5452 §9.2's fresh source port per query, and
// drops datagrams from any other address), whose datagrams a goroutine of
// its own reads as they come and queues for read, so that read never
// blocks and the exchange learns of them through its Poll as on
// Linux. It costs a goroutine and a copy per datagram, which the Linux
// file does not; this one runs on every OS the net package does.
type Sock struct{ q *sockQueue }

// sockQueue is what the reading goroutine has read and the exchange not
// yet.
type sockQueue struct {
	conn   *net.UDPConn
	mu     sync.Mutex
	dgrams [][]byte
	err    error  // the read's error (ECONNREFUSED after an ICMP port unreachable)
	notify func() // called after each datagram or error; nil until armed
}

// Dial opens a socket connected to ap, and starts reading it.
func Dial(ap netip.AddrPort) (Sock, error) {
	// Unmapped, as on Linux: OpenBSD has no v4-mapped IPv6 sockets.
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())))
	if err != nil {
		return Sock{}, err
	}
	s := Sock{q: &sockQueue{conn: c}}
	go s.q.readAll()
	return s, nil
}

// readAll queues the datagrams of q's socket until it is closed, or until
// an error, which is queued after them: an exchange ends at its first
// error, as it does on Linux.
func (q *sockQueue) readAll() {
	var buf [bufSize]byte
	for {
		n, err := q.conn.Read(buf[:])
		if errors.Is(err, net.ErrClosed) {
			return
		}
		q.mu.Lock()
		if err != nil {
			q.err = err
		} else {
			q.dgrams = append(q.dgrams, append([]byte(nil), buf[:n]...))
		}
		notify := q.notify
		q.mu.Unlock()
		if notify != nil {
			notify()
		}
		if err != nil {
			return
		}
	}
}

// Close closes the socket, which ends its reading goroutine.
func (s Sock) Close() { s.q.conn.Close() }

// Write sends one datagram.
func (s Sock) Write(b []byte) error {
	_, err := s.q.conn.Write(b)
	return err
}

// Read takes one queued datagram into b; wouldBlock when none is queued.
// A datagram longer than b is cut to it, as the kernel would; an error
// comes after the datagrams read before it.
func (s Sock) Read(b []byte) (n int, wouldBlock bool, err error) {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	switch {
	case len(s.q.dgrams) > 0:
		n = copy(b, s.q.dgrams[0])
		s.q.dgrams[0] = nil
		s.q.dgrams = s.q.dgrams[1:]
		return n, false, nil
	case s.q.err != nil:
		return 0, false, s.q.err
	}
	return 0, true, nil
}

// id is none: a Poll's generation alone keys the sockets here.
func (s Sock) id() int { return 0 }

// pollSet is, here, the reaper's timer only: the sockets' own reading
// goroutines wake their exchanges (Poll.wake).
type pollSet struct {
	timer *time.Timer
}

// openPollSet starts the reaper's timer, stopped.
func openPollSet() (*pollSet, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pollSet{timer: t}, nil
}

// add has sock's reading goroutine wake key after each datagram, and at
// once if some are queued already.
func (s *pollSet) add(p *Poll, sock Sock, key uint64) error {
	sock.q.mu.Lock()
	sock.q.notify = func() { p.wake(key) }
	queued := len(sock.q.dgrams) > 0 || sock.q.err != nil
	sock.q.mu.Unlock()
	if queued {
		p.wake(key)
	}
	return nil
}

// rearm is nothing: every datagram wakes the exchange (a wake-up already
// pending absorbs the next), so none is missed between its read and this.
func (s *pollSet) rearm(Sock, uint64) error { return nil }

// setDeadline is when wait returns os.ErrDeadlineExceeded.
func (s *pollSet) setDeadline(t time.Time) { s.timer.Reset(time.Until(t)) }

// wait returns at the deadline; no socket's readiness comes through it.
func (s *pollSet) wait() ([]uint64, error) {
	<-s.timer.C
	return nil, os.ErrDeadlineExceeded
}

// close stops the timer; only the reaper does, as it exits.
func (s *pollSet) close() { s.timer.Stop() }

// AwaitQueued blocks until s's reading goroutine has queued a datagram or
// an error. For tests that queue replies before an exchange waits: it
// takes the place of a Poll's notification, so s must not be armed.
func (s Sock) AwaitQueued() error {
	arrived := make(chan struct{}, 1)
	s.q.mu.Lock()
	s.q.notify = func() {
		select {
		case arrived <- struct{}{}:
		default:
		}
	}
	queued := len(s.q.dgrams) > 0 || s.q.err != nil
	s.q.mu.Unlock()
	if !queued {
		<-arrived
	}
	return nil
}
