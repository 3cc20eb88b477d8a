package recursive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/udpsock"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// ednsSize is the UDP payload size we advertise: the DNS Flag Day 2020
// value, small enough to avoid IP fragmentation (and the spoofing it
// allows) on common paths.
const ednsSize = 1232

// udpBufSize is the receive buffer; a reply filling it was cut by the
// kernel and is retried over TCP.
const udpBufSize = 4096

// udpBufs recycles the receive buffers of UDP exchanges.
var udpBufs = sync.Pool{New: func() any { return new([udpBufSize]byte) }}

// Exchange failures; a *serverError wraps them with the server.
var (
	errTimeout  = errors.New("timeout")
	errMismatch = errors.New("only replies not matching the query")
	// errCaseMismatch: replies matched but for the letter case of the
	// name, so the server does not preserve case (0x20 unusable).
	errCaseMismatch = errors.New("replies with the query name's case changed")
)

// serverError is a failure of one server.
type serverError struct {
	addr netip.Addr
	err  error
}

func (e *serverError) Error() string { return e.addr.String() + ": " + e.err.Error() }
func (e *serverError) Unwrap() error { return e.err }

// rcodeError is a reply whose rcode makes it useless (SERVFAIL, REFUSED...).
type rcodeError struct{ rcode int }

func (e *rcodeError) Error() string { return "answered " + rcodeString(e.rcode) }

func rcodeString(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rc)
}

// exchange asks addr for name/qtype and returns its reply (any rcode), its
// owner names canonicalised. Within it: a truncated reply is asked again
// over TCP, FORMERR/NOTIMP to an EDNS query again without EDNS (and the
// server remembered as such), and a server mangling 0x20 case again with
// the name as is. Every packet sent spends one unit of the query budget.
func (q *query) exchange(ctx context.Context, addr netip.Addr, name string, qtype uint16) (*dns.Msg, error) {
	r := q.r
	si := r.infra.info(addr, r.clock.Now())
	edns := !si.noEDNS
	x20 := r.cfg.CaseRandomisation
	tcp := false
	var qbuf [maxQueryLen]byte // the query's room: the send queue and TCP copy it
	for first := true; ; first = false {
		if err := q.spend(ctx); err != nil {
			return nil, err
		}
		send := name
		if x20 {
			send = randomCase(name)
		}
		wire, id, err := packQuery(qbuf[:0], send, qtype, edns, q.do)
		if err != nil {
			return nil, fmt.Errorf("cannot ask for %q: %w", name, err)
		}
		if !first { // a fallback: what the last reply taught is in the record
			si = r.infra.info(addr, r.clock.Now())
		}
		rto := si.rto
		start := time.Now()
		deadline := start.Add(rto)
		budgetBound := q.deadline.Before(deadline)
		if budgetBound {
			deadline = q.deadline
		}
		var resp *dns.Msg
		if tcp {
			resp, err = r.exchangeTCP(ctx, addr, wire, id, send, qtype, deadline)
		} else {
			resp, err = r.exchangeUDP(ctx, addr, wire, id, send, qtype, x20, deadline, &q.reply)
		}
		rtt := time.Since(start)
		now := r.clock.Now()
		switch {
		case err == nil:
			r.m.exchanged(resultReply)
			r.infra.observeRTT(addr, rtt, now)
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case errors.Is(err, errTimeout) && budgetBound:
			// Our time ran out, not the server's patience: no penalty.
			return nil, ErrTimeBudget
		case errors.Is(err, errTimeout):
			r.m.exchanged(resultTimeout)
			r.infra.observeTimeout(addr, now)
			return nil, &serverError{addr, fmt.Errorf("%w after %v", err, rto.Round(time.Millisecond))}
		case errors.Is(err, errCaseMismatch):
			r.m.exchanged(resultMismatch)
			r.m.fellBack(fallbackCase)
			x20 = false
			continue
		case errors.Is(err, errMismatch):
			r.m.exchanged(resultMismatch)
			r.infra.observeTimeout(addr, now)
			return nil, &serverError{addr, err}
		default:
			r.m.exchanged(resultError)
			r.infra.observeTimeout(addr, now) // unreachable: rank it last
			return nil, &serverError{addr, err}
		}
		switch {
		case resp.Truncated && !tcp:
			r.m.fellBack(fallbackTCP)
			tcp = true
			continue
		case edns && (resp.Rcode == dns.RcodeFormatError || resp.Rcode == dns.RcodeNotImplemented):
			r.m.fellBack(fallbackEDNS)
			r.infra.setNoEDNS(addr, now)
			edns = false
			continue
		}
		canonicalise(resp)
		return resp, nil
	}
}

// packQuery builds the wire query: a random ID, RD clear (we iterate), CD
// clear (validation is not ours to skip), and our own OPT when edns, with
// the client's DO bit so DNSSEC records reach a client that wants them.
// It writes the octets by hand into dst's room (or a new slice when dst
// has too little), as dns.Msg.Pack would write them but without a Msg,
// question slice and OPT record to allocate on every upstream query.
func packQuery(dst []byte, name string, qtype uint16, edns, do bool) ([]byte, uint16, error) {
	id := uint16(rand.Uint32())
	// A name's wire form is at most one octet longer than its text.
	n := dnswire.HeaderLen + len(name) + 1 + 4
	if cap(dst) < n+dnswire.OPTLen {
		dst = make([]byte, 0, n+dnswire.OPTLen)
	}
	msg := dst[:n]
	clear(msg[:dnswire.HeaderLen])
	dnswire.SetID(msg, id)
	var ar uint16
	if edns {
		ar = 1
	}
	dnswire.SetCounts(msg, 1, 0, 0, ar)
	off, err := dns.PackDomainName(name, msg, dnswire.HeaderLen, nil, false)
	if err != nil {
		return nil, 0, err
	}
	binary.BigEndian.PutUint16(msg[off:], qtype)
	binary.BigEndian.PutUint16(msg[off+2:], dns.ClassINET)
	msg = msg[:off+4]
	if edns {
		msg = dnswire.AppendOPT(msg, ednsSize, do, 0)
	}
	return msg, id, nil
}

// randomCase flips the case of each letter of name at random (0x20,
// draft-vixie-dnsext-dns0x20): another ~1 bit per letter an off-path
// forger must guess.
func randomCase(name string) string {
	b := []byte(name)
	var bits uint64
	for i, c := range b {
		if i%64 == 0 {
			bits = rand.Uint64()
		}
		if ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') && bits&(1<<(i%64)) != 0 {
			b[i] ^= 0x20
		}
	}
	return string(b)
}

// exchangeUDP sends wire from a fresh socket (see udpsock.Sock: a new
// kernel-chosen random source port per query; the connected socket drops
// datagrams from other addresses) and reads until a matching reply or the
// deadline, so a forged packet cannot displace the genuine answer that
// follows it. It waits in r.replies, woken when the socket has something
// to read, the deadline has passed or ctx has ended. The reply is decoded
// into into, which it returns.
func (r *Resolver) exchangeUDP(ctx context.Context, addr netip.Addr, wire []byte, id uint16, name string, qtype uint16, exactCase bool, deadline time.Time, into *dns.Msg) (*dns.Msg, error) {
	sock, err := udpsock.Dial(netip.AddrPortFrom(addr, r.port))
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	// Armed before the write, which r.sends makes with the rest of its
	// burst: no reply can come before it, and a failed write wakes w.
	w, err := r.replies.Arm(ctx, sock, deadline)
	if err != nil {
		return nil, err
	}
	defer r.replies.Disarm(w) // before sock.Close, deferred earlier
	o := r.sends.queue(sock, wire, w.Ready)
	defer o.withdraw() // before disarm and close: the flusher is done with sock
	return r.awaitReply(ctx, sock, w, o, id, name, qtype, exactCase, deadline, into)
}

// awaitReply waits until sock, armed as w with deadline, has a reply to
// our query o, which it decodes into into and returns, or the deadline,
// or o's write fails.
func (r *Resolver) awaitReply(ctx context.Context, sock udpsock.Sock, w udpsock.Wait, o *outbound, id uint16, name string, qtype uint16, exactCase bool, deadline time.Time, into *dns.Msg) (*dns.Msg, error) {
	bp := udpBufs.Get().(*[udpBufSize]byte)
	defer udpBufs.Put(bp)
	buf := bp[:]
	var mismatch error
	var m *dns.Msg
	err := r.replies.Await(ctx, sock, w, deadline, func() (bool, error) {
		var err error
		m, err = readReplies(sock, buf, id, name, qtype, exactCase, &mismatch, into)
		return m != nil, err
	}, o.failed)
	switch {
	case err == nil:
		return m, nil
	case err == os.ErrDeadlineExceeded:
		if mismatch != nil {
			return nil, mismatch
		}
		return nil, errTimeout
	case err == ctx.Err():
		return nil, errTimeout // exchange reports the context's cause
	}
	return nil, err
}

// readReplies reads the datagrams queued on sock into buf until one
// answers our query, which it decodes into m and returns, or none is left
// (nil, nil). A datagram that does not decode or match sets *mismatch, so
// that a timeout can say the server sent only those.
func readReplies(sock udpsock.Sock, buf []byte, id uint16, name string, qtype uint16, exactCase bool, mismatch *error, m *dns.Msg) (*dns.Msg, error) {
	for {
		n, wouldBlock, err := sock.Read(buf)
		if err != nil {
			return nil, err
		}
		if wouldBlock {
			return nil, nil
		}
		if n == len(buf) { // the kernel cut it: as good as truncated
			*m = dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Response: true, Truncated: true}}
			return m, nil
		}
		msg, ext := cutOPT(buf[:n])
		if err := m.Unpack(msg); err != nil { // an empty datagram too
			*mismatch = errMismatch
			continue
		}
		m.Rcode |= ext << 4
		switch matchReply(m, id, name, qtype, exactCase) {
		case matchOK:
			return m, nil
		case matchCase:
			*mismatch = errCaseMismatch
		default:
			if *mismatch == nil {
				*mismatch = errMismatch
			}
		}
	}
}

// cutOPT returns reply without its OPT record, when it has one and that
// is its last record, and the extended rcode's upper eight bits the OPT
// carried; the reply as it is otherwise (no OPT, or one where a decoder
// must judge it: misplaced, repeated). The resolver reads nothing else
// from a reply's OPT, and the record is two allocations on every reply
// (the record and the additional section holding it) that the decoder
// no longer makes. reply's ARCOUNT is changed in place.
func cutOPT(reply []byte) (_ []byte, ext int) {
	opts, optAt, optEnd := 0, 0, 0
	end, ok := dnswire.Walk(reply, func(r dnswire.RR) bool {
		if r.Type == dns.TypeOPT {
			opts++
			optAt, optEnd = r.Owner, r.End()
			ext = int(reply[r.TTL])
		}
		return true
	})
	if !ok || opts != 1 || optEnd != end || reply[optAt] != 0 {
		return reply, 0
	}
	qd, an, ns, ar := dnswire.Counts(reply)
	if ar == 0 || optAt < dnswire.HeaderLen {
		return reply, 0
	}
	dnswire.SetCounts(reply, qd, an, ns, ar-1)
	return reply[:optAt], ext
}

// exchangeTCP sends wire over a new TCP connection (RFC 7766), after a
// truncated UDP reply.
func (r *Resolver) exchangeTCP(ctx context.Context, addr netip.Addr, wire []byte, id uint16, name string, qtype uint16, deadline time.Time) (*dns.Msg, error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, r.port).String())
	if err != nil {
		return nil, timeoutAs(err)
	}
	defer conn.Close()
	defer watch(ctx, conn, deadline)()
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	if _, err := conn.Write(out); err != nil {
		return nil, timeoutAs(err)
	}
	for {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return nil, timeoutAs(err)
		}
		buf := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, timeoutAs(err)
		}
		m := new(dns.Msg)
		if m.Unpack(buf) != nil || matchReply(m, id, name, qtype, false) != matchOK {
			continue // a stray message on our own connection: keep reading
		}
		return m, nil
	}
}

// match is how a reply relates to our query.
type match uint8

const (
	matchNo   match = iota
	matchOK         // ours
	matchCase       // ours but for the name's letter case
)

// matchReply checks that m answers our query: same ID, QR set, opcode
// QUERY, and exactly our question (type, class, name; the name's case too
// when exactCase). An error reply may omit the question.
func matchReply(m *dns.Msg, id uint16, name string, qtype uint16, exactCase bool) match {
	if m.Id != id || !m.Response || m.Opcode != dns.OpcodeQuery {
		return matchNo
	}
	if len(m.Question) == 0 {
		if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError && len(m.Answer) == 0 {
			return matchOK
		}
		return matchNo
	}
	q := m.Question[0]
	if len(m.Question) != 1 || q.Qtype != qtype || q.Qclass != dns.ClassINET || !strings.EqualFold(q.Name, name) {
		return matchNo
	}
	if exactCase && q.Name != name {
		return matchCase
	}
	return matchOK
}

// deadliner is a connection with a deadline: the TCP conn.
type deadliner interface{ SetDeadline(time.Time) error }

// watch sets conn's deadline and makes a cancellation of ctx interrupt it
// at once. The returned func releases the watch.
func watch(ctx context.Context, conn deadliner, deadline time.Time) (stop func() bool) {
	conn.SetDeadline(deadline)
	if ctx.Done() == nil {
		return func() bool { return false }
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// timeoutAs maps a deadline error to errTimeout, leaving others alone.
func timeoutAs(err error) error {
	if isTimeout(err) {
		return errTimeout
	}
	return err
}
