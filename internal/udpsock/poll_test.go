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
