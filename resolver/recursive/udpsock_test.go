package recursive

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
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
			wire, id, err := packQuery(name, dns.TypeA, true, false)
			if err != nil {
				t.Fatal(err)
			}
			// The deadline only bounds the failing cases; nothing is timed.
			m, err := r.exchangeUDP(context.Background(), netip.MustParseAddr("127.0.0.1"), wire, id, name, dns.TypeA, true, time.Now().Add(300*time.Millisecond))
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
