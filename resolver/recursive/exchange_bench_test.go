package recursive

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// BenchmarkExchangeUDP measures one UDP exchange with a wire-level echo
// responder on loopback (it flips QR and sends the query back), so that
// the client side dominates: exchangeUDP (raw socket per query) beside the
// net.DialUDP way of doing the same, in the same run.
func BenchmarkExchangeUDP(b *testing.B) {
	srv := dnstest.ListenRawUDP(b)
	dnstest.ServeRawUDP(srv, func(q []byte, from netip.AddrPort) {
		q[2] |= 0x80
		_, _ = srv.WriteToUDPAddrPort(q, from)
	})
	ap := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	r := &Resolver{port: ap.Port()}
	const name = "www.example.test."
	ctx := context.Background()
	b.Run("rawsock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wire, id, _ := packQuery(nil, name, dns.TypeA, true, false)
			if _, err := r.exchangeUDP(ctx, ap.Addr(), wire, id, name, dns.TypeA, true, time.Now().Add(time.Second), new(dns.Msg)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=net.DialUDP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wire, _, _ := packQuery(nil, name, dns.TypeA, true, false)
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr(), ap.Port())))
			if err != nil {
				b.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(time.Second))
			buf := make([]byte, udpBufSize)
			_, _ = c.Write(wire)
			n, err := c.Read(buf)
			c.Close()
			if err != nil || new(dns.Msg).Unpack(buf[:n]) != nil {
				b.Fatal(err)
			}
		}
	})
}
