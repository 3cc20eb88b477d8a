package recursive

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// hostileAuth is an authoritative server on loopback that answers every
// query, over UDP and TCP, first with the reply under test (its ID and,
// by mode, its question rewritten to the query's) and then with a genuine
// SERVFAIL, so that an exchange which rightly drops the first never waits
// for a timeout.
type hostileAuth struct {
	udp  net.PacketConn
	tcp  net.Listener
	mu   sync.Mutex
	body []byte
	mode byte
}

func startHostileAuth(t testing.TB) *hostileAuth {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		pc.Close()
		t.Skipf("TCP port %d taken: %v", port, err)
	}
	a := &hostileAuth{udp: pc, tcp: ln}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go a.serveUDP()
	go a.serveTCP()
	return a
}

func (a *hostileAuth) port() int { return a.udp.LocalAddr().(*net.UDPAddr).Port }

func (a *hostileAuth) set(body []byte, mode byte) {
	a.mu.Lock()
	a.body, a.mode = body, mode
	a.mu.Unlock()
}

// replies are the two messages answering query.
func (a *hostileAuth) replies(query []byte) [][]byte {
	q := new(dns.Msg)
	if q.Unpack(query) != nil || len(q.Question) != 1 {
		return nil
	}
	a.mu.Lock()
	r, mode := append([]byte(nil), a.body...), a.mode
	a.mu.Unlock()
	if mode&1 != 0 && len(r) >= 2 {
		binary.BigEndian.PutUint16(r, q.Id)
	}
	qwire, _ := q.Pack()
	if end := 12 + questionLen(qwire); mode&2 != 0 && len(r) >= end && end <= len(qwire) {
		copy(r[12:end], qwire[12:end])
		if mode&4 != 0 { // the name in lower case: a 0x20 mismatch
			for i := 12; i < end-4; i++ {
				if 'A' <= r[i] && r[i] <= 'Z' {
					r[i] += 'a' - 'A'
				}
			}
		}
		r[2] = r[2]&^0x78 | 0x80 // QR, opcode QUERY
		r[4], r[5] = 0, 1
	}
	sf := new(dns.Msg)
	sf.SetRcode(q, dns.RcodeServerFailure)
	genuine, _ := sf.Pack()
	return [][]byte{r, genuine}
}

// questionLen is the length of the question section of a packed query
// with one uncompressed question.
func questionLen(wire []byte) int {
	off := 12
	for off < len(wire) && wire[off] != 0 {
		off += int(wire[off]) + 1
	}
	return off + 1 + 4 - 12
}

func (a *hostileAuth) serveUDP() {
	buf := make([]byte, 4096)
	for {
		n, from, err := a.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		for _, r := range a.replies(buf[:n]) {
			_, _ = a.udp.WriteTo(r, from)
		}
	}
}

func (a *hostileAuth) serveTCP() {
	for {
		c, err := a.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				return
			}
			query := make([]byte, binary.BigEndian.Uint16(l[:]))
			if _, err := io.ReadFull(c, query); err != nil {
				return
			}
			for _, r := range a.replies(query) {
				frame := binary.BigEndian.AppendUint16(nil, uint16(min(len(r), 0xffff)))
				if _, err := c.Write(append(frame, r[:min(len(r), 0xffff)]...)); err != nil {
					return
				}
			}
		}()
	}
}

// FuzzExchange puts whatever a hostile or broken authoritative server
// can send in front of the recursive resolver's exchange (UDP, the TCP
// retry after TC, the retry without EDNS after FORMERR, the 0x20 case
// check, canonicalisation). It must not panic, must return within its
// budget, and an accepted reply must answer the question asked. Every
// packet goes to the loopback server above and nowhere else: exchange
// talks to one address.
func FuzzExchange(f *testing.F) {
	const name = "www.example.org."
	pack := func(m *dns.Msg) []byte {
		m.Id, m.Response = 1, true
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			f.Fatal(err)
		}
		return r
	}
	answer := new(dns.Msg)
	answer.SetQuestion(name, dns.TypeA)
	answer.Answer = []dns.RR{rr("www.EXAMPLE.org. 300 IN A 192.0.2.1")}
	referral := new(dns.Msg)
	referral.SetQuestion(name, dns.TypeA)
	referral.Ns = []dns.RR{rr("example.org. 3600 IN NS ns1.example.org.")}
	referral.Extra = []dns.RR{rr("ns1.example.org. 3600 IN A 192.0.2.53")}
	tc := new(dns.Msg)
	tc.SetQuestion(name, dns.TypeA)
	tc.Truncated = true
	formerr := new(dns.Msg)
	formerr.SetQuestion(name, dns.TypeA)
	formerr.Rcode = dns.RcodeFormatError
	noQuestion := new(dns.Msg)
	noQuestion.Rcode = dns.RcodeRefused
	long := new(dns.Msg)
	long.SetQuestion(name, dns.TypeA)
	long.Answer = []dns.RR{rr(name + " 300 IN CNAME " + strings.Repeat("a.", 120))}
	for _, seed := range [][]byte{pack(answer), pack(referral), pack(tc), pack(formerr), pack(noQuestion), pack(long), {}, make([]byte, 12)} {
		for _, mode := range []byte{0, 3, 7} {
			f.Add(seed, mode, false)
			f.Add(seed, mode, true)
		}
	}
	auth := startHostileAuth(f)
	f.Fuzz(func(t *testing.T, body []byte, mode byte, x20 bool) {
		auth.set(body, mode)
		r, err := New(Config{RootHints: []string{"127.0.0.1"}, Port: auth.port(), QueryLoopback: true,
			CaseRandomisation: x20, MaxQueries: 6, Timeout: 2 * time.Second, InfraCacheSize: 10, DelegationCacheSize: 10}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		q := &query{r: r, deadline: time.Now().Add(2 * time.Second)}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := q.exchange(ctx, netip.MustParseAddr("127.0.0.1"), name, dns.TypeA)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatal("the exchange outlived its context")
		case err != nil:
			return
		case resp == nil:
			t.Fatal("no reply and no error")
		case len(resp.Question) > 0 && (!strings.EqualFold(resp.Question[0].Name, name) || resp.Question[0].Qtype != dns.TypeA):
			t.Fatalf("accepted a reply for %v", resp.Question)
		case !resp.Response:
			t.Fatal("accepted a message without QR")
		}
		if q.sent > r.cfg.MaxQueries {
			t.Fatalf("sent %d queries, budget %d", q.sent, r.cfg.MaxQueries)
		}
	})
}
