package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/bindtest"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// lossyPath stands between the source and its primary on one loopback
// port: TCP is passed through, UDP queries are relayed to the primary
// unless dropped (the first drop of them; -1: all), and their answers
// relayed back. It counts what it saw, for assertions on the path taken.
type lossyPath struct {
	addr string // where the source is told the primary is
	to   string // the primary
	pc   net.PacketConn
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	drop     int
	dropped  int // UDP queries dropped
	answers  int // UDP answers relayed back
	tcpConns int
}

func newLossyPath(t *testing.T, to string, drop int) *lossyPath {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	l := &lossyPath{addr: addr, to: to, pc: pc, ln: ln, drop: drop}
	l.wg.Go(l.serveUDP)
	l.wg.Go(l.serveTCP)
	t.Cleanup(func() { pc.Close(); ln.Close(); l.wg.Wait() })
	return l
}

func (l *lossyPath) serveUDP() {
	buf := make([]byte, 65535)
	for {
		n, from, err := l.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		l.mu.Lock()
		lost := l.drop < 0 || l.dropped < l.drop
		if lost {
			l.dropped++
		}
		l.mu.Unlock()
		if lost {
			continue
		}
		q := append([]byte(nil), buf[:n]...)
		l.wg.Go(func() { l.relayUDP(q, from) })
	}
}

// relayUDP sends q to the primary on a socket of its own and the answer
// back to from.
func (l *lossyPath) relayUDP(q []byte, from net.Addr) {
	up, err := net.Dial("udp", l.to)
	if err != nil {
		return
	}
	defer up.Close()
	_ = up.SetReadDeadline(time.Now().Add(wait.Bound))
	if _, err := up.Write(q); err != nil {
		return
	}
	buf := make([]byte, 65535)
	n, err := up.Read(buf)
	if err != nil {
		return
	}
	if _, err := l.pc.WriteTo(buf[:n], from); err == nil {
		l.mu.Lock()
		l.answers++
		l.mu.Unlock()
	}
}

func (l *lossyPath) serveTCP() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.tcpConns++
		l.mu.Unlock()
		l.wg.Go(func() {
			defer c.Close()
			up, err := net.Dial("tcp", l.to)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() { _, _ = io.Copy(up, c); _ = up.(*net.TCPConn).CloseWrite(); close(done) }()
			_, _ = io.Copy(c, up)
			_ = c.(*net.TCPConn).CloseWrite()
			<-done
		})
	}
}

func (l *lossyPath) counts() (dropped, answers, tcpConns int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped, l.answers, l.tcpConns
}

// TestXfrSOALostDatagrams: the refresh's SOA query reaches a real primary
// (named, knotd) through a path that loses UDP queries. One or two lost
// are retried over UDP (the same signed bytes); all lost, the query goes
// over TCP. Either way the refresh sees the new serial and transfers it.
func TestXfrSOALostDatagrams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start startPrimary
		drop  int // UDP queries lost; -1: every one
		// overTCP: the SOA query must have gone over TCP (a connection
		// besides the AXFR's and the IXFR's); otherwise a UDP answer came.
		overTCP bool
	}{
		{"named/first query lost", bindtest.Start, 1, false},
		{"named/two queries lost", bindtest.Start, 2, false},
		{"named/UDP blocked", bindtest.Start, -1, true},
		{"knotd/first query lost", bindtest.StartKnot, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.start(t, bindtest.Options{Records: testZoneRecords})
			path := newLossyPath(t, b.Addr().String(), tc.drop)
			e := newXfrManager(t, b, "", func(lc *ListConfig, o *Options) {
				lc.Source = "axfr://" + path.addr + "/rpz.test"
			})
			ctx := context.Background()
			if err := e.m.Start(ctx); err != nil { // an AXFR over TCP: no SOA query yet
				t.Fatalf("start: %v\n%s", err, e.logs)
			}
			before, _ := e.source().serial()
			b.Update(fmt.Sprintf("update add lost%d.example.rpz.test. 60 CNAME .", tc.drop+1))
			if err := e.m.RefreshNow(ctx); err != nil {
				t.Fatalf("refresh: %v\n%s", err, e.logs)
			}
			if got, _ := e.source().serial(); got != before+1 {
				t.Errorf("serial after the refresh = %d, want %d\n%s", got, before+1, e.logs)
			}
			if got := e.source().lastXfr; got != "ixfr" {
				t.Errorf("transfer = %q, want ixfr", got)
			}
			checkDecisions(t, e.m, map[string]string{fmt.Sprintf("lost%d.example", tc.drop+1): "block:nxdomain"})
			dropped, answers, conns := path.counts()
			if tc.drop > 0 && dropped != tc.drop {
				t.Errorf("dropped %d UDP queries, want %d", dropped, tc.drop)
			}
			tcpLogged := strings.Contains(e.logs.String(), "SOA query answered over TCP")
			if tc.overTCP {
				if conns != 3 || answers != 0 || !tcpLogged { // AXFR, SOA, IXFR
					t.Errorf("%d TCP connections, %d UDP answers, TCP answer logged %v; want 3, 0, true\n%s", conns, answers, tcpLogged, e.logs)
				}
				return
			}
			if answers < 1 {
				t.Errorf("no UDP answer was relayed; the retry did not reach the primary\n%s", e.logs)
			}
		})
	}
}

// TestXfrSOAUnreachable: with the primary gone (UDP refused, TCP refused)
// the refresh fails at once and names both transports.
func TestXfrSOAUnreachable(t *testing.T) {
	b := bindtest.Start(t, bindtest.Options{Records: testZoneRecords})
	e := newXfrManager(t, b, "", nil)
	ctx := context.Background()
	if err := e.m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	err := e.m.RefreshNow(ctx)
	if err == nil {
		t.Fatal("a refresh with the primary gone succeeded")
	}
	for _, want := range []string{`feed "rpz"`, "primary " + b.Addr().String(), "SOA query", "over UDP", "over TCP", "refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestXfrSOANoUDPAnswer: UDP datagrams go nowhere and TCP is refused: the
// error says how many UDP tries were made and what TCP said. The bound is
// the tries' own timeout; the context of the refresh is not reached.
func TestXfrSOANoUDPAnswer(t *testing.T) {
	// A bound UDP socket that never answers, with nothing on TCP.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := &xfrSource{name: "rpz", zone: "rpz.test."}
	s.log, s.met = slog.New(slog.DiscardHandler), func() *Metrics { return nil }
	p := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	ctx, cancel := context.WithTimeout(context.Background(), wait.Bound)
	defer cancel()
	_, err = s.querySOA(ctx, p)
	if err == nil {
		t.Fatal("an SOA query nobody answered succeeded")
	}
	want := fmt.Sprintf("SOA query: no answer over UDP (%d tries, %s each); over TCP: ", soaUDPTries, soaUDPTry)
	if !strings.HasPrefix(err.Error(), want) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}

// TestXfrSOAWrongKey: an SOA answer over UDP that does not verify (the key
// changed under a running list) fails the check with the TSIG hint, and
// goes no further: the primary answered, so TCP is not tried.
func TestXfrSOAWrongKey(t *testing.T) {
	b := bindtest.Start(t, bindtest.Options{Records: testZoneRecords})
	path := newLossyPath(t, b.Addr().String(), 0)
	e := newXfrManager(t, b, "", func(lc *ListConfig, o *Options) { lc.Source = "axfr://" + path.addr + "/rpz.test" })
	ctx := context.Background()
	if err := e.m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	src := e.source()
	src.key = &tsigKey{name: src.key.name, algorithm: src.key.algorithm, secret: bindtest.WrongSecret}
	_, err := src.querySOA(ctx, src.primaries[0])
	if err == nil || !strings.Contains(err.Error(), "TSIG") {
		t.Fatalf("SOA query with a wrong key: %v, want a TSIG error", err)
	}
	t.Logf("%v", err)
	if _, answers, conns := path.counts(); answers != 1 || conns != 1 { // the answer; the AXFR
		t.Errorf("%d UDP answers, %d TCP connections; want 1, 1 (no TCP fallback): %v", answers, conns, err)
	}
}

// soaReplyCase builds, for a keyed source, its signed SOA query (id, MAC)
// and answers to it, for soaReply's tests and fuzz seeds.
type soaReplyCase struct {
	s   *xfrSource
	id  uint16
	mac string
}

func newSOAReplyCase(t testing.TB) soaReplyCase {
	t.Helper()
	s := &xfrSource{name: "rpz", zone: "rpz.test.",
		key: &tsigKey{name: bindtest.KeyName + ".", algorithm: dns.HmacSHA256, secret: bindtest.KeySecret}}
	q := s.soaQuery()
	if _, mac, err := dns.TsigGenerate(q, s.key.secret, "", false); err != nil {
		t.Fatal(err)
	} else {
		return soaReplyCase{s: s, id: q.Id, mac: mac}
	}
	return soaReplyCase{}
}

// answer is a reply to the query, changed by mod, signed with secret
// ("" unsigned).
func (c soaReplyCase) answer(t testing.TB, secret string, mod func(*dns.Msg)) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(c.s.zone, dns.TypeSOA)
	q.Id = c.id
	r := new(dns.Msg)
	r.SetReply(q)
	soa, _ := dns.NewRR("rpz.test. 60 IN SOA ns.rpz.test. h.rpz.test. 7 3600 600 86400 60")
	r.Answer = []dns.RR{soa}
	if mod != nil {
		mod(r)
	}
	if secret == "" {
		b, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	r.SetTsig(c.s.key.name, dns.HmacSHA256, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(r, secret, c.mac, false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSOAReply: which datagrams the UDP wait takes as the answer, skips,
// or takes as a failed answer.
func TestSOAReply(t *testing.T) {
	c := newSOAReplyCase(t)
	for _, tc := range []struct {
		name    string
		pkt     []byte
		ok      bool
		errWant string // "" for none
	}{
		{"signed answer", c.answer(t, bindtest.KeySecret, nil), true, ""},
		{"another ID", c.answer(t, bindtest.KeySecret, func(r *dns.Msg) { r.Id++ }), false, ""},
		{"not a response", c.answer(t, bindtest.KeySecret, func(r *dns.Msg) { r.Response = false }), false, ""},
		{"another question", c.answer(t, bindtest.KeySecret, func(r *dns.Msg) { r.Question[0].Qtype = dns.TypeA }), false, ""},
		{"another zone", c.answer(t, bindtest.KeySecret, func(r *dns.Msg) { r.Question[0].Name = "other.test." }), false, ""},
		{"not DNS", []byte("\x00\x01garbage"), false, ""},
		{"unsigned", c.answer(t, "", nil), true, "without a TSIG signature"},
		{"unsigned REFUSED", c.answer(t, "", func(r *dns.Msg) { r.Rcode = dns.RcodeRefused; r.Answer = nil }), true, "answered REFUSED without a TSIG"},
		{"signed with another key", c.answer(t, bindtest.WrongSecret, nil), true, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok, err := c.s.soaReply(tc.pkt, c.id, c.mac)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (err %v)", ok, tc.ok, err)
			}
			switch {
			case tc.errWant == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.errWant != "" && (err == nil || !strings.Contains(err.Error(), tc.errWant) || !errors.Is(err, errSOAAnswer)):
				t.Errorf("err = %v, want errSOAAnswer saying %q", err, tc.errWant)
			case ok && err == nil && r == nil:
				t.Error("taken, but no message")
			}
		})
	}
	// Without a key, an unsigned answer is the answer.
	unkeyed := &xfrSource{zone: "rpz.test."}
	if _, ok, err := unkeyed.soaReply(c.answer(t, "", nil), c.id, ""); !ok || err != nil {
		t.Errorf("unkeyed source, unsigned answer: ok %v, err %v", ok, err)
	}
}
