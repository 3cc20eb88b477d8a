package resolver_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/query"
)

// udpReadSize mirrors the listeners' read buffer (resolver/udp.go).
const udpReadSize = 4096

// paddedQuery is a query for name of exactly size bytes, grown with an
// EDNS padding option (RFC 7830), as a privacy-minded client sends.
func paddedQuery(t *testing.T, id uint16, name string, size int) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = id
	m.SetEdns0(1232, false)
	base, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	pad := size - len(base) - 4 // option code and length
	if pad < 0 {
		t.Fatalf("query already %d bytes, want %d", len(base), size)
	}
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_PADDING{Padding: make([]byte, pad)}}
	w, err := m.Pack()
	if err != nil || len(w) != size {
		t.Fatalf("padded query %d bytes (%v), want %d", len(w), err, size)
	}
	return w
}

// The UDP read buffers hold any query (udpReadSize bytes, far more than a
// question and its OPT); a larger datagram arrives cut and is dropped and
// counted as malformed rather than parsed, and the socket goes on serving.
func TestUDPReadSize(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		answered bool
	}{
		{"plain query", 0, true},
		{"padded to 1232", 1232, true},
		{"exactly the read buffer", udpReadSize, true},
		{"one byte more: cut, dropped", udpReadSize + 1, false},
		{"64 KiB datagram: dropped", 65000, false},
	}
	e := startEnv(t, buildTable(t), envOpts{})
	c, err := net.Dial("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uint16(1000 + i)
			var pkt []byte
			if tt.size == 0 {
				m := new(dns.Msg).SetQuestion("plain.example.com.", dns.TypeA)
				m.Id = id
				pkt, _ = m.Pack()
			} else {
				pkt = paddedQuery(t, id, strings.Repeat("a", 40)+".example.com.", tt.size)
			}
			before := metricValue(t, e.reg, "bulwark_malformed_queries_total")
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
			if !tt.answered {
				// The drop is counted by the reader that saw it; a
				// bounded wait for the counter, not a timing claim.
				for range 500 {
					if metricValue(t, e.reg, "bulwark_malformed_queries_total") == before+1 {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if got := metricValue(t, e.reg, "bulwark_malformed_queries_total"); got != before+1 {
					t.Fatalf("bulwark_malformed_queries_total %v, want %v", got, before+1)
				}
			}
			// The socket still serves; a dropped query has no answer,
			// so the next one read is the follow-up's.
			follow := new(dns.Msg).SetQuestion("follow.example.com.", dns.TypeA)
			follow.Id = id + 100
			fw, _ := follow.Pack()
			if _, err := c.Write(fw); err != nil {
				t.Fatal(err)
			}
			want := map[uint16]bool{follow.Id: true}
			if tt.answered {
				want[id] = true
			}
			buf := make([]byte, 65535)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(want) > 0 {
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("waiting for answers %v: %v", want, err)
				}
				m := new(dns.Msg)
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				if !want[m.Id] {
					t.Fatalf("answer with ID %d, want one of %v", m.Id, want)
				}
				if m.Rcode != dns.RcodeSuccess {
					t.Fatalf("answer %d: %s", m.Id, dns.RcodeToString[m.Rcode])
				}
				delete(want, m.Id)
			}
		})
	}
}

// Many clients sending at once fill the reader's batches with datagrams
// from different addresses, answered on the fast path (cached, blocked)
// and in workers (new names) alike: every answer must reach the client
// that asked, over IPv4 and IPv6 sockets.
func TestUDPBatchesAnswerEachClient(t *testing.T) {
	const clients, perClient = 16, 24
	for _, tc := range []struct{ name, listen string }{
		{"ipv4", "127.0.0.1:0"},
		{"ipv6", "[::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "ipv6" {
				pc, err := net.ListenPacket("udp6", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				pc.Close()
			}
			srv := benchServerAt(t, tc.listen, true, answerA, 10000)
			if err := srv.Listen(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
			addr := srv.Addrs()[0].String()
			// A query for each kind: i%3 == 0 cached (asked once
			// before), 1 blocked, 2 a name never asked.
			question := func(c, i int) (string, int) {
				switch i % 3 {
				case 0:
					return "www.example.org.", dns.RcodeSuccess
				case 1:
					return fmt.Sprintf("c%d.evil.example.", c), dns.RcodeNameError
				}
				return fmt.Sprintf("n%d-%d.example.net.", c, i), dns.RcodeSuccess
			}
			warm := new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)
			if _, err := dns.Exchange(warm, addr); err != nil {
				t.Fatal(err)
			}
			conns := make([]net.Conn, clients)
			for c := range conns {
				var err error
				if conns[c], err = net.Dial("udp", addr); err != nil {
					t.Fatal(err)
				}
				defer conns[c].Close()
			}
			for i := range perClient { // interleaved, so that batches mix clients
				for c, conn := range conns {
					name, _ := question(c, i)
					m := new(dns.Msg).SetQuestion(name, dns.TypeA)
					m.Id = uint16(c<<8 | i)
					w, _ := m.Pack()
					if _, err := conn.Write(w); err != nil {
						t.Fatal(err)
					}
				}
			}
			buf := make([]byte, 1500)
			for c, conn := range conns {
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				seen := map[uint16]bool{}
				for len(seen) < perClient {
					n, err := conn.Read(buf)
					if err != nil {
						t.Fatalf("client %d: %d of %d answers: %v", c, len(seen), perClient, err)
					}
					m := new(dns.Msg)
					if err := m.Unpack(buf[:n]); err != nil {
						t.Fatal(err)
					}
					i := int(m.Id & 0xff)
					name, rcode := question(c, i)
					if int(m.Id>>8) != c || seen[m.Id] || len(m.Question) != 1 || m.Question[0].Name != name || m.Rcode != rcode {
						t.Fatalf("client %d got ID %#x for %v rcode %s, want its own query %d (%s, %s)",
							c, m.Id, m.Question, dns.RcodeToString[m.Rcode], i, name, dns.RcodeToString[rcode])
					}
					seen[m.Id] = true
				}
			}
		})
	}
}

// TestUDPMissLeavesBeforeTheBacklog: with the server on one P, a query
// the fast path hands to a worker (a cache miss) is sent on before the
// reader has answered the whole backlog queued behind it. The reader is
// held (an observer that waits on the first query) while the backlog is
// queued, as a stall on a loaded core would hold it. The upstream marks
// the moment the miss reaches it by sending a datagram to the client, on
// the socket the blocked names' answers arrive on, so the kernel queues
// the two in the order they were sent. Before the reader yielded after a
// run of full batches it parked only once the socket was empty: every
// answer of the backlog came first, and on a loaded core the misses waited
// for the whole backlog, or for the scheduler's 10 ms preemption. While it
// yielded with one runtime.Gosched, about 1 run in 25 under -race still
// failed so: the scheduler handed the processor straight back to the
// reader (yieldToWorkers says when), which then read the rest.
func TestUDPMissLeavesBeforeTheBacklog(t *testing.T) {
	tests := []struct {
		name    string
		backlog int // blocked queries queued right behind the miss
	}{
		{"several batches", 200},
		{"a long backlog", 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One P, and so one reader on the socket (one per P), as
			// for a server pinned to a core.
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			marker, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer marker.Close()
			const missName, gateName = "miss.example.org.", "gate.evil.example."
			up := query.ResolverFunc(func(ctx context.Context, req *query.Request) (*dns.Msg, error) {
				if req.Question.Name == missName {
					_, _ = marker.WriteToUDPAddrPort([]byte("mark"), req.Client)
				}
				m := new(dns.Msg)
				m.SetQuestion(req.Question.Name, req.Question.Qtype)
				m.Response, m.RecursionAvailable = true, true
				rr, _ := dns.NewRR(req.Question.Name + " 300 IN A 192.0.2.1")
				m.Answer = []dns.RR{rr}
				return m, nil
			})
			gate := &gateObserver{name: gateName, entered: make(chan struct{}), release: make(chan struct{})}
			srv := newChain(t, chainConfig{table: phishingTable(t), up: up, observer: gate}).server(t, "127.0.0.1:0", true)
			listen(t, srv)
			server := netip.MustParseAddrPort(srv.Addrs()[0].String())
			client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			_ = client.SetReadBuffer(4 << 20)
			send := func(p []byte) {
				if _, err := client.WriteToUDPAddrPort(p, server); err != nil {
					t.Fatal(err)
				}
			}

			send(pack(t, gateName, 1))
			<-gate.entered // the reader is held answering it
			send(pack(t, missName, 2))
			for i := range tt.backlog {
				send(pack(t, fmt.Sprintf("q%d.evil.example.", i), uint16(i+3)))
			}
			close(gate.release)

			// A stall guard, not a bound: the datagrams are all local.
			_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 4096)
			blocked, blockedBeforeMark, marked, missAnswered := 0, -1, false, false
			for blocked < tt.backlog || !marked || !missAnswered {
				n, _, err := client.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("after %d blocked answers (mark %v, miss answered %v): %v", blocked, marked, missAnswered, err)
				}
				if string(buf[:n]) == "mark" {
					marked, blockedBeforeMark = true, blocked
					continue
				}
				m := new(dns.Msg)
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatalf("answer does not decode: %v", err)
				}
				switch {
				case m.Id == 1: // the gate's
				case m.Id == 2:
					missAnswered = true
				case m.Rcode == dns.RcodeNameError:
					blocked++
				default:
					t.Fatalf("unexpected answer %v", m)
				}
			}
			t.Logf("the miss reached the upstream after %d of the %d blocked answers behind it", blockedBeforeMark, tt.backlog)
			if blockedBeforeMark >= tt.backlog {
				t.Errorf("the miss reached the upstream only after all %d blocked answers of the backlog behind it", tt.backlog)
			}
		})
	}
}

// gateObserver holds the goroutine that answers the query for name (the
// UDP reader, for a block) until release is closed; entered is closed
// once it holds it.
type gateObserver struct {
	name             string
	once             sync.Once
	entered, release chan struct{}
}

func (g *gateObserver) Observe(ev query.Event) {
	if ev.QName != g.name {
		return
	}
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
}

// pack is a packed A query for name with id.
func pack(t *testing.T, name string, id uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Id = id
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
