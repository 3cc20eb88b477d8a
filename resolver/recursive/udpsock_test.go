package recursive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/udpsock"
)

// TestExchangeUDPOddDatagrams: what the upstream socket does with replies
// that are not one well-formed answer (an empty datagram, junk, nothing,
// a closed port): it keeps waiting for the genuine answer, and says which
// failure it was when there is none.
func TestExchangeUDPOddDatagrams(t *testing.T) {
	const name = "www.example.test."
	genuine := func(q []byte) []byte {
		m := new(dns.Msg)
		if m.Unpack(q) != nil {
			return nil
		}
		r := new(dns.Msg).SetReply(m)
		r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 9)}}
		b, _ := r.Pack()
		return b
	}
	tests := []struct {
		name    string
		replies func(q []byte) [][]byte // datagrams sent back, in order
		closed  bool                    // no server on the port at all
		wantErr error                   // nil: the genuine answer
		refused bool                    // the error is the kernel's ECONNREFUSED
	}{
		{name: "empty datagram then the answer", replies: func(q []byte) [][]byte { return [][]byte{{}, genuine(q)} }},
		{name: "junk then the answer", replies: func(q []byte) [][]byte { return [][]byte{{1, 2, 3}, genuine(q)} }},
		{name: "only an empty datagram", replies: func([]byte) [][]byte { return [][]byte{{}} }, wantErr: errMismatch},
		{name: "no reply", replies: func([]byte) [][]byte { return nil }, wantErr: errTimeout},
		{name: "closed port", closed: true, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
			if tt.closed {
				pc.Close()
			} else {
				t.Cleanup(func() { pc.Close() })
				go func() {
					buf := make([]byte, 512)
					n, from, err := pc.ReadFromUDPAddrPort(buf)
					if err != nil {
						return
					}
					for _, d := range tt.replies(buf[:n]) {
						pc.WriteToUDPAddrPort(d, from)
					}
				}()
			}
			r := &Resolver{port: ap.Port()}
			wire, id, err := packQuery(nil, name, dns.TypeA, true, false)
			if err != nil {
				t.Fatal(err)
			}
			// The deadline only bounds the failing cases; nothing is timed.
			m, err := r.exchangeUDP(context.Background(), netip.MustParseAddr("127.0.0.1"), wire, id, name, dns.TypeA, true, time.Now().Add(300*time.Millisecond), new(dns.Msg))
			switch {
			case tt.refused:
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("err %v, want connection refused", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.9":
				t.Fatalf("answer %v, want the genuine A 192.0.2.9", m.Answer)
			}
		})
	}
}

// echoServer answers every query with itself, QR set, after delay(query)
// (none when delay is nil), each on its own goroutine.
func echoServer(t *testing.T, delay func(q []byte) time.Duration) netip.AddrPort {
	t.Helper()
	pc := dnstest.ListenRawUDP(t)
	dnstest.ServeRawUDP(pc, func(wire []byte, from netip.AddrPort) {
		go func(q []byte) {
			if delay != nil {
				time.Sleep(delay(q))
			}
			q[2] |= 0x80
			pc.WriteToUDPAddrPort(q, from)
		}(append([]byte(nil), wire...))
	})
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestReplyPollConcurrent: many exchanges waiting at once in one
// udpsock.Poll, their replies coming back out of order, each gets its own.
func TestReplyPollConcurrent(t *testing.T) {
	ap := echoServer(t, func(q []byte) time.Duration { return time.Duration(q[1]%8) * time.Millisecond })
	r := &Resolver{port: ap.Port()}
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			name := fmt.Sprintf("q%d.example.test.", i)
			m, id, err := askUDP(context.Background(), r, ap, name, time.Now().Add(5*time.Second))
			switch {
			case err != nil:
				errs <- err
			case m.Id != id || m.Question[0].Name != name:
				errs <- fmt.Errorf("query %s id %d got the reply to %s id %d", name, id, m.Question[0].Name, m.Id)
			default:
				errs <- nil
			}
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestReplyPollIdle: the reaper exits once no exchange has waited for a
// while, and the next exchange starts it again.
func TestReplyPollIdle(t *testing.T) {
	ap := echoServer(t, nil)
	r := &Resolver{port: ap.Port()}
	r.replies.Idle = time.Millisecond
	for round := range 2 {
		const name = "www.example.test."
		wire, id, _ := packQuery(nil, name, dns.TypeA, true, false)
		if _, err := r.exchangeUDP(context.Background(), ap.Addr(), wire, id, name, dns.TypeA, true, time.Now().Add(5*time.Second), new(dns.Msg)); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for start := time.Now(); r.replies.Running(); time.Sleep(time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("round %d: the reaper still runs with no exchange", round)
			}
		}
	}
}

// TestExchangeUDPCanceled: cancelling the query's context ends a wait for
// a server that never answers, long before the exchange's deadline.
func TestExchangeUDPCanceled(t *testing.T) {
	ap := echoServer(t, func([]byte) time.Duration { return time.Hour })
	r := &Resolver{port: ap.Port()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		const name = "www.example.test."
		wire, id, _ := packQuery(nil, name, dns.TypeA, true, false)
		_, err := r.exchangeUDP(ctx, ap.Addr(), wire, id, name, dns.TypeA, true, time.Now().Add(time.Hour), new(dns.Msg))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // most likely waiting by now; either way it must end
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errTimeout) {
			t.Fatalf("err %v, want errTimeout (exchange reports the context's cause)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the exchange went on waiting after its context was cancelled")
	}
}

// TestAwaitReplyQueuedAtDeadline: when the deadline has passed by the time
// the exchange looks (a host that did not give it the CPU), datagrams
// already queued on the socket still count: the genuine answer is taken,
// and only what is queued decides between timeout and mismatch.
func TestAwaitReplyQueuedAtDeadline(t *testing.T) {
	const name = "www.example.test."
	tests := []struct {
		name    string
		queued  func(id uint16) [][]byte // datagrams in the socket before the wait
		wantErr error                    // nil: the genuine answer
	}{
		{name: "the answer", queued: func(id uint16) [][]byte { return [][]byte{answerFor(t, id, name)} }},
		{name: "junk then the answer", queued: func(id uint16) [][]byte { return [][]byte{{1, 2, 3}, answerFor(t, id, name)} }},
		{name: "another ID only", queued: func(id uint16) [][]byte { return [][]byte{answerFor(t, id+1, name)} }, wantErr: errMismatch},
		{name: "nothing", queued: func(uint16) [][]byte { return nil }, wantErr: errTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pc.Close() })
			r := &Resolver{}
			sock, err := udpsock.Dial(pc.LocalAddr().(*net.UDPAddr).AddrPort())
			if err != nil {
				t.Fatal(err)
			}
			defer sock.Close()
			wire, id, err := packQuery(nil, name, dns.TypeA, true, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := sock.Write(wire); err != nil {
				t.Fatal(err)
			}
			_, from, err := pc.ReadFromUDPAddrPort(make([]byte, 512))
			if err != nil {
				t.Fatal(err)
			}
			dgrams := tt.queued(id)
			for _, d := range dgrams {
				if _, err := pc.WriteToUDPAddrPort(d, from); err != nil {
					t.Fatal(err)
				}
			}
			if len(dgrams) > 0 {
				if err := sock.AwaitQueued(); err != nil {
					t.Fatal(err)
				}
			}
			// The reaper has not run yet (w is in no epoll set, its wake-up
			// never comes) and the deadline is behind us: the timer is due
			// at once, as for an exchange the host kept off the CPU.
			w := udpsock.Wait{Ready: make(chan struct{}, 1)}
			o := &outbound{sock: sock, wire: wire, ready: w.Ready}
			o.state.Store(sendWritten) // written above
			m, err := r.awaitReply(context.Background(), sock, w, o, id, name, dns.TypeA, true, time.Now().Add(-time.Second), new(dns.Msg))
			switch {
			case tt.wantErr == nil && (err != nil || m == nil || len(m.Answer) != 1):
				t.Fatalf("got %v, %v; want the queued answer", m, err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// answerFor is a genuine-looking answer to our query for name, with id.
func answerFor(t *testing.T, id uint16, name string) []byte {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	m.Id, m.Response = id, true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 9)}}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplyPollDeadlines: exchanges with a server that never answers end
// with a timeout, each woken by the reaper's sweep once its own deadline
// has passed, whether its context can be cancelled or not, while others
// with the same server are still waiting.
func TestReplyPollDeadlines(t *testing.T) {
	ap := echoServer(t, func([]byte) time.Duration { return time.Hour })
	tests := []struct {
		name     string
		ctx      func() context.Context
		n        int
		deadline func(i int) time.Duration // from now
	}{
		{"background context", context.Background, 20, func(i int) time.Duration { return time.Duration(i%5) * 10 * time.Millisecond }},
		{"cancellable context", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return ctx
		}, 20, func(i int) time.Duration { return time.Duration(i%5) * 10 * time.Millisecond }},
		{"deadline already passed", context.Background, 5, func(int) time.Duration { return -time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{port: ap.Port()}
			errs := make(chan error, tt.n)
			for i := range tt.n {
				go func() {
					_, _, err := askUDP(tt.ctx(), r, ap, fmt.Sprintf("t%d.example.test.", i), time.Now().Add(tt.deadline(i)))
					errs <- err
				}()
			}
			for range tt.n {
				if err := <-errs; !errors.Is(err, errTimeout) {
					t.Errorf("err %v, want errTimeout", err)
				}
			}
		})
	}
}

// askUDP asks ap for name/A over UDP through r, exactly as the resolver
// would, and returns the reply and the query's ID.
func askUDP(ctx context.Context, r *Resolver, ap netip.AddrPort, name string, deadline time.Time) (*dns.Msg, uint16, error) {
	wire, id, err := packQuery(nil, name, dns.TypeA, true, false)
	if err != nil {
		return nil, 0, err
	}
	m, err := r.exchangeUDP(ctx, ap.Addr(), wire, id, name, dns.TypeA, true, deadline, new(dns.Msg))
	return m, id, err
}
