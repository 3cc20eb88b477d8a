package upstream

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// ecsRequest is a client query from client, with an ECS option for
// subnet ("" for none; "0/0" for family 0, as dig +subnet=0 sends).
func ecsRequest(t *testing.T, client, subnet string) *contract.Request {
	t.Helper()
	m := new(dns.Msg).SetQuestion("x.example.", dns.TypeA)
	m.SetEdns0(1232, false)
	if subnet != "" {
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET}
		if subnet == "0/0" {
			e.Address = net.IPv4zero
		} else {
			p := netip.MustParsePrefix(subnet)
			e.Family, e.SourceNetmask, e.Address = 1, uint8(p.Bits()), net.IP(p.Addr().AsSlice())
			if p.Addr().Is6() {
				e.Family = 2
			}
		}
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, e)
		// Through the wire, as the listener would receive it.
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		m = new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			t.Fatal(err)
		}
	}
	return contract.NewRequest(m, netip.AddrPortFrom(netip.MustParseAddr(client), 5353), contract.ProtoUDP)
}

func TestECS(t *testing.T) {
	off := ECSConfig{}
	fwd := ECSConfig{Forward: true}
	client := ECSConfig{Forward: true, UseClientAddress: true}
	narrow := ECSConfig{Forward: true, IPv4Prefix: 16, IPv6Prefix: 48, UseClientAddress: true}
	tests := []struct {
		name   string
		cfg    ECSConfig
		client string
		subnet string
		want   string // prefix sent upstream, "" for no ECS option
	}{
		{"off: client ECS stripped", off, "192.0.2.10", "198.51.100.77/32", ""},
		{"off: client address never used", off, "192.0.2.10", "", ""},
		{"forward: cut to /24", fwd, "192.0.2.10", "198.51.100.77/32", "198.51.100.0/24"},
		{"forward: shorter kept", fwd, "192.0.2.10", "198.51.0.0/16", "198.51.0.0/16"},
		{"forward: v6 cut to /56", fwd, "192.0.2.10", "2001:db8:aa:bbcc::1/128", "2001:db8:aa:bb00::/56"},
		{"forward: opt-out /0 passed on", fwd, "192.0.2.10", "198.51.100.0/0", "0.0.0.0/0"},
		{"forward: dig's family 0", fwd, "192.0.2.10", "0/0", "0.0.0.0/0"},
		{"forward: no client ECS, no address use", fwd, "192.0.2.10", "", ""},
		{"client address v4", client, "192.0.2.10", "", "192.0.2.0/24"},
		{"client address v6", client, "2001:db8:1:2::5", "", "2001:db8:1::/56"},
		{"client address mapped v4", client, "::ffff:192.0.2.10", "", "192.0.2.0/24"},
		{"client option beats address", client, "192.0.2.10", "203.0.113.9/32", "203.0.113.0/24"},
		{"private client not revealed", client, "10.1.2.3", "", ""},
		{"loopback client not revealed", client, "127.0.0.1", "", ""},
		{"ULA client not revealed", client, "fd00::1", "", ""},
		{"narrow prefixes", narrow, "192.0.2.10", "198.51.100.77/32", "198.51.0.0/16"},
		{"narrow v6 from address", narrow, "2001:db8:1:2::5", "", "2001:db8:1::/48"},
	}
	s := dnstest.Start(t, dnstest.WithWildcard())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newForwarder(t, Config{Servers: []string{s.Addr}, ECS: tt.cfg, Timeout: long, TryTimeout: long})
			s.Reset()
			req := ecsRequest(t, tt.client, tt.subnet)
			m, err := f.Resolve(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if hasOPT(m) {
				t.Error("upstream OPT (and its ECS scope) returned to the client")
			}
			qs := s.Queries()
			if len(qs) != 1 || qs[0].OPT == nil {
				t.Fatalf("server saw %+v", qs)
			}
			var got string
			for _, o := range qs[0].OPT.Option {
				e, ok := o.(*dns.EDNS0_SUBNET)
				if !ok {
					t.Errorf("option %v sent upstream", o)
					continue
				}
				a, _ := netip.AddrFromSlice(e.Address)
				if e.Family == 1 {
					a = a.Unmap()
				}
				got = netip.PrefixFrom(a, int(e.SourceNetmask)).String()
				if e.SourceScope != 0 || netip.MustParsePrefix(got).Masked().String() != got {
					t.Errorf("ECS %v: scope must be 0 and host bits zero", e)
				}
			}
			if got != tt.want {
				t.Errorf("upstream saw ECS %q, want %q", got, tt.want)
			}
			if p, ok := f.ClientSubnet(req); ok != (tt.want != "") || ok && p.String() != tt.want {
				t.Errorf("ClientSubnet = %v, %v; want %q", p, ok, tt.want)
			}
		})
	}
}

func FuzzPackQueryECS(f *testing.F) {
	f.Add("www.example.com.", []byte{198, 51, 100, 7}, uint8(24))
	f.Add("a.", []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(56))
	f.Add("x.", []byte{0, 0, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, name string, addr []byte, bits uint8) {
		a, ok := netip.AddrFromSlice(addr)
		if !ok {
			return
		}
		p, err := a.Prefix(int(bits) % (a.BitLen() + 1))
		if err != nil {
			t.Fatal(err)
		}
		var b buffers
		q, err := packQuery(b.query[:], dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, false, false, p)
		if err != nil {
			return // names packQuery refuses
		}
		m := new(dns.Msg)
		if err := m.Unpack(q.udp()); err != nil {
			t.Fatalf("%q %v: our query does not parse: %v", name, p, err)
		}
		opt := m.IsEdns0()
		if opt == nil || len(opt.Option) != 1 {
			t.Fatalf("OPT %v, want one option", opt)
		}
		e := opt.Option[0].(*dns.EDNS0_SUBNET)
		back, _ := netip.AddrFromSlice(e.Address)
		if a.Is4() {
			back = back.Unmap()
		}
		if got := netip.PrefixFrom(back, int(e.SourceNetmask)); got != p {
			t.Fatalf("sent %v, decoded %v", p, got)
		}
	})
}
