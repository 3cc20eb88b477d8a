package upstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/udpsock"
)

// Sentinel causes, for errors.Is on the error Resolve returns.
var (
	// ErrTimeout: an upstream did not reply within the try timeout.
	ErrTimeout = errors.New("timeout")
	// ErrMismatch: an upstream's try timed out with only replies that did
	// not match the query (forged, stray or broken) received, or, over
	// TCP, TLS or HTTPS, its reply was for another question.
	ErrMismatch = errors.New("no matching reply")
	// ErrServFail: an upstream answered SERVFAIL.
	ErrServFail = errors.New("answered SERVFAIL")
	// ErrRefused: an upstream answered REFUSED.
	ErrRefused = errors.New("answered REFUSED")
)

// server is one upstream: plain DNS over UDP (TCP on truncation), plain
// DNS over reused TCP connections, DNS over TLS or DNS over HTTPS, chosen
// by the endpoint's scheme. It is shared by every group that lists it.
type server struct {
	name    string // as configured: the metric label and the error prefix
	ep      endpoint
	replies *udpsock.Poll // transUDP: the Forwarder's, where its replies are waited for
	tcp     string        // transUDP's TCP fallback
	stream  *streamPool   // transTCP, transTLS
	doh     *dohClient    // transHTTPS
	// lookup resolves ep.host through the bootstrap servers; nil when
	// there are none.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	health health
	m      serverMetrics
}

// exchange asks s once over its transport, by deadline.
// A final reply is returned as relay gives it.
func (s *server) exchange(ctx context.Context, q *query, b *buffers, deadline time.Time) ([]byte, result, error) {
	switch s.ep.transport {
	case transTCP, transTLS:
		return s.exchangeStream(ctx, q, deadline)
	case transHTTPS:
		return s.exchangeHTTPS(ctx, q, b, deadline)
	}
	return s.exchangeUDP(ctx, q, b, deadline)
}

// close releases s's connections.
func (s *server) close() {
	if s.stream != nil {
		s.stream.close()
	}
	if s.doh != nil {
		s.doh.close()
	}
}

// exchangeUDP sends q from a fresh socket (a new kernel-chosen random
// source port per attempt, and the connected socket drops datagrams from
// other addresses) and reads until a matching reply or the deadline, so
// a forged packet cannot displace the genuine answer that follows it.
// The socket is internal/udpsock's, made with raw system calls and
// waited for in the Forwarder's one Poll, as the recursive resolver's
// are: a net.UDPConn per query cost eleven system calls a miss (socket,
// setsockopt, connect, getsockname, getpeername, two epoll_ctl, write,
// a read before the reply was there, read, close) where this makes six
// (socket, connect, epoll_ctl, write, read, close), and ten allocations
// more (BenchmarkServerUDPMiss).
func (s *server) exchangeUDP(ctx context.Context, q *query, b *buffers, deadline time.Time) ([]byte, result, error) {
	start := time.Now()
	sock, err := udpsock.Dial(s.ep.addrPort())
	if err != nil {
		return nil, resError, s.errorf("udp", "%w", err)
	}
	defer sock.Close()
	// Armed before the write: no reply can come before it.
	w, err := s.replies.Arm(ctx, sock, deadline)
	if err != nil {
		return nil, resError, s.errorf("udp", "%w", err)
	}
	defer s.replies.Disarm(w) // before sock.Close, deferred earlier

	q.newID()
	if err := sock.Write(q.udp()); err != nil {
		return s.failure(ctx, "udp", err, start, deadline, 0)
	}
	dropped := 0
	var (
		wire []byte
		res  result
		rerr error
	)
	err = s.replies.Await(ctx, sock, w, deadline, func() (bool, error) {
		var done bool
		wire, res, done, rerr = s.readUDP(sock, q, b, &dropped)
		return done, nil
	}, nil)
	switch {
	case err == nil:
		return wire, res, rerr
	case err == os.ErrDeadlineExceeded, err == ctx.Err():
		return s.failure(ctx, "udp", err, start, deadline, dropped)
	}
	return nil, resError, s.errorf("udp", "%w", err)
}

// readUDP reads the datagrams queued on sock until one answers q, and
// returns what exchangeUDP returns for it with done, or done false when
// none is left. A datagram that does not match, or is not shaped like a DNS
// message, is counted in dropped; the socket's error ends the exchange.
func (s *server) readUDP(sock udpsock.Sock, q *query, b *buffers, dropped *int) (wire []byte, res result, done bool, err error) {
	for {
		n, wouldBlock, err := sock.Read(b.reply[:])
		switch {
		case err != nil:
			return nil, resError, true, s.errorf("udp", "%w", err)
		case wouldBlock:
			return nil, 0, false, nil
		case !q.matches(b.reply[:n]):
			*dropped++
			continue
		case n == len(b.reply) || truncated(b.reply[:n]): // oversized (the kernel cut it), or TC
			return nil, resTruncated, true, nil
		}
		wire, rcode, valid := relay(b.reply[:n])
		if !valid {
			*dropped++
			continue
		}
		wire, res, err = s.classify(wire, rcode, "udp")
		return wire, res, true, err
	}
}

// exchangeTCP asks q again over TCP, after a truncated UDP reply.
func (s *server) exchangeTCP(ctx context.Context, q *query, b *buffers, deadline time.Time) ([]byte, result, error) {
	start := time.Now()
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", s.tcp)
	if err != nil {
		return s.failure(ctx, "tcp", err, start, deadline, 0)
	}
	defer conn.Close()
	defer watch(ctx, conn, deadline)()

	q.newID()
	if _, err := conn.Write(q.tcp()); err != nil {
		return s.failure(ctx, "tcp", err, start, deadline, 0)
	}
	dropped := 0
	for {
		reply, err := readTCP(conn, b)
		if err != nil {
			return s.failure(ctx, "tcp", err, start, deadline, dropped)
		}
		if !q.matches(reply) {
			dropped++
			continue
		}
		wire, rcode, ok := relay(reply)
		if !ok {
			dropped++
			continue
		}
		// TC over TCP is nonsense, but the answer is all there is.
		return s.classify(wire, rcode, "tcp")
	}
}

// readTCP reads one length-prefixed message, into b unless it is larger.
func readTCP(conn net.Conn, b *buffers) ([]byte, error) {
	if _, err := io.ReadFull(conn, b.reply[:2]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(b.reply[:2]))
	buf := b.reply[:]
	if n > len(buf) {
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(conn, buf[:n]); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// watch sets conn's deadline and makes a cancellation of ctx (client gone,
// shutdown) interrupt it at once. The returned func releases the watch.
func watch(ctx context.Context, conn net.Conn, deadline time.Time) (stop func() bool) {
	conn.SetDeadline(deadline)
	if ctx.Done() == nil {
		return func() bool { return false }
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// classify decides whether wire, a reply as relay gives it with its
// rcode, is final (returned) or a reason to fail over.
func (s *server) classify(wire []byte, rcode int, proto string) ([]byte, result, error) {
	switch rcode {
	case dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeYXDomain:
		return wire, resSuccess, nil
	case dns.RcodeServerFailure:
		return nil, resServfail, s.errorf(proto, "%w", ErrServFail)
	case dns.RcodeRefused:
		return nil, resRefused, s.errorf(proto, "%w", ErrRefused)
	}
	return nil, resOtherRcode, s.errorf(proto, "answered %s", rcodeString(rcode))
}

// failure explains a read, write or dial error: a cancelled client, a
// timeout (with or without dropped mismatched replies), or a network error.
func (s *server) failure(ctx context.Context, proto string, err error, start, deadline time.Time, dropped int) ([]byte, result, error) {
	if cerr := context.Cause(ctx); cerr != nil {
		return nil, resCanceled, s.errorf(proto, "%w", cerr)
	}
	if ne := net.Error(nil); !errors.As(err, &ne) || !ne.Timeout() {
		return nil, resError, s.errorf(proto, "%w", err)
	}
	budget := deadline.Sub(start).Round(time.Millisecond)
	if dropped > 0 {
		return nil, resMismatch, s.errorf(proto, "%w after %v (%d dropped)", ErrMismatch, budget, dropped)
	}
	return nil, resTimeout, s.errorf(proto, "%w after %v", ErrTimeout, budget)
}

// errorf prefixes an error with the upstream as configured, and the
// transport when it is not the server's own (UDP's TCP fallback).
func (s *server) errorf(proto, format string, args ...any) error {
	prefix := "upstream " + s.name + ": "
	if proto != s.ep.transport.String() {
		prefix = "upstream " + s.name + " over " + proto + ": "
	}
	return fmt.Errorf(prefix+format, args...)
}

// stripOPT removes the upstream's OPT: its options (NSID, cookies,
// padding, EDE) are for us, and the responder adds the client's own OPT.
func stripOPT(msg *dns.Msg) {
	extra := msg.Extra[:0]
	for _, rr := range msg.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	clear(msg.Extra[len(extra):])
	msg.Extra = extra
	if len(extra) == 0 {
		msg.Extra = nil
	}
}

func rcodeString(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rc)
}
