package udpsock

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// TestPollWakesEveryExchange: exchanges through one Poll, one after
// another and in bursts at once, are each woken by their reply, never by
// their deadline (far off: a lost wake-up fails the exchange at it). A
// reaper that parked after a wait which emptied the set, without asking
// it once more, lost wake-ups here: the runtime's poller forgets a
// readiness that came meanwhile when the next Read begins (pollReset),
// so the set must be asked before the reaper parks.
func TestPollWakesEveryExchange(t *testing.T) {
	pc := dnstest.ListenRawUDP(t)
	dnstest.ServeRawUDP(pc, func(q []byte, from netip.AddrPort) { pc.WriteToUDPAddrPort(q, from) })
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	var p Poll
	ask := func(i int) error {
		sock, err := Dial(ap)
		if err != nil {
			return err
		}
		defer sock.Close()
		deadline := time.Now().Add(10 * time.Second)
		w, err := p.Arm(context.Background(), sock, deadline)
		if err != nil {
			return err
		}
		defer p.Disarm(w)
		want := fmt.Sprintf("query %d", i)
		if err := sock.Write([]byte(want)); err != nil {
			return err
		}
		buf := make([]byte, 64)
		for {
			<-w.Ready
			n, wouldBlock, err := sock.Read(buf)
			switch {
			case err != nil:
				return err
			case !time.Now().Before(deadline):
				return fmt.Errorf("%s: woken only by the deadline", want)
			case !wouldBlock && string(buf[:n]) == want:
				return nil
			case !wouldBlock:
				return fmt.Errorf("got %q, want %q", buf[:n], want)
			}
			if err := p.Rearm(sock, w); err != nil {
				return err
			}
		}
	}
	tests := []struct {
		name       string
		rounds, at int // rounds of at exchanges at once
	}{
		{"one after another", 300, 1},
		{"bursts", 20, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for r := range tt.rounds {
				errs := make(chan error, tt.at)
				for i := range tt.at {
					go func() { errs <- ask(r*tt.at + i) }()
				}
				for range tt.at {
					if err := <-errs; err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestPollSweepsAtTheEarliestDeadline: an exchange whose server never
// answers is woken once its deadline has passed, also when it was armed
// after others with later deadlines (the sweep is due at the earliest),
// whether its context can end or not, and one whose context ends is
// woken before its deadline. Nothing is timed: a missed sweep leaves the
// exchange waiting, and the test's own timeout fails it.
func TestPollSweepsAtTheEarliestDeadline(t *testing.T) {
	pc := dnstest.ListenRawUDP(t) // reads nothing, answers nothing
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		in   time.Duration // the deadline, from now
	}{
		{"background context", context.Background(), 20 * time.Millisecond},
		{"cancellable context", t.Context(), 20 * time.Millisecond},
		{"deadline passed", context.Background(), -time.Millisecond},
		{"context ended, deadline far", cancelled, time.Hour},
	}
	var p Poll
	arm := func(ctx context.Context, deadline time.Time) (Sock, Wait) {
		t.Helper()
		sock, err := Dial(ap)
		if err != nil {
			t.Fatal(err)
		}
		w, err := p.Arm(ctx, sock, deadline)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Disarm(w); sock.Close() })
		return sock, w
	}
	arm(context.Background(), time.Now().Add(time.Hour)) // armed first, due last
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deadline := time.Now().Add(tt.in)
			_, w := arm(tt.ctx, deadline)
			<-w.Ready
			if tt.ctx.Err() == nil && time.Now().Before(deadline) {
				t.Fatal("woken before the deadline, with nothing to read")
			}
		})
	}
}
