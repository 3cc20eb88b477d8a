package upstream

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestPackQuery(t *testing.T) {
	tests := []struct {
		name       string
		q          dns.Question
		rd, cd, do bool
	}{
		{"plain", dns.Question{Name: "www.example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, false, false},
		{"flags", dns.Question{Name: "Example.COM.", Qtype: dns.TypeHTTPS, Qclass: dns.ClassINET}, false, true, true},
		{"not fqdn", dns.Question{Name: "example.org", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, true, true, false},
		{"root", dns.Question{Name: ".", Qtype: dns.TypeNS, Qclass: dns.ClassINET}, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b buffers
			q, err := packQuery(b.query[:], tt.q, tt.rd, tt.cd, tt.do, netip.Prefix{})
			if err != nil {
				t.Fatal(err)
			}
			q.newID()
			if n := int(b.query[0])<<8 | int(b.query[1]); n != len(q.udp()) || len(q.tcp()) != n+2 {
				t.Errorf("TCP length prefix %d, message %d bytes", n, len(q.udp()))
			}
			m := new(dns.Msg)
			if err := m.Unpack(q.udp()); err != nil {
				t.Fatal(err)
			}
			if m.Response || m.Opcode != dns.OpcodeQuery || m.RecursionDesired != tt.rd || m.CheckingDisabled != tt.cd || m.AuthenticatedData {
				t.Errorf("header %+v, want query with RD=%v CD=%v", m.MsgHdr, tt.rd, tt.cd)
			}
			if len(m.Question) != 1 || m.Question[0].Name != dns.Fqdn(tt.q.Name) || m.Question[0].Qtype != tt.q.Qtype || m.Question[0].Qclass != tt.q.Qclass {
				t.Errorf("question %v, want %v", m.Question, tt.q)
			}
			opt := m.IsEdns0()
			if opt == nil || len(m.Extra) != 1 || opt.UDPSize() != ednsSize || opt.Do() != tt.do || opt.Version() != 0 || len(opt.Option) != 0 {
				t.Errorf("OPT %v, want size %d DO=%v and nothing else", opt, ednsSize, tt.do)
			}
		})
	}
}

func TestPackQueryRejects(t *testing.T) {
	long := ""
	for range 10 {
		long += "abcdefghijklmnopqrstuvwxyz."
	}
	var b buffers
	for _, name := range []string{long, "a..b.", ""} {
		if _, err := packQuery(b.query[:], dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, false, false, netip.Prefix{}); err == nil {
			t.Errorf("packQuery(%q) succeeded", name)
		}
	}
}

func TestMatches(t *testing.T) {
	var b buffers
	q, err := packQuery(b.query[:], dns.Question{Name: "www.Example.com.", Qtype: dns.TypeHTTPS, Qclass: dns.ClassINET}, true, false, false, netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	q.newID()
	query := new(dns.Msg)
	if err := query.Unpack(q.udp()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		modify func(*dns.Msg)
		raw    func([]byte) []byte
		want   bool
	}{
		{"genuine", nil, nil, true},
		{"name case differs", func(m *dns.Msg) { m.Question[0].Name = "WWW.EXAMPLE.COM." }, nil, true},
		{"wrong ID", func(m *dns.Msg) { m.Id++ }, nil, false},
		{"not a response", func(m *dns.Msg) { m.Response = false }, nil, false},
		{"other opcode", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, nil, false},
		{"other name", func(m *dns.Msg) { m.Question[0].Name = "www.example.net." }, nil, false},
		{"longer name", func(m *dns.Msg) { m.Question[0].Name = "www.example.com.evil." }, nil, false},
		{"parent name", func(m *dns.Msg) { m.Question[0].Name = "example.com." }, nil, false},
		// HTTPS is type 65 = 'A': a folding compare would match type 97.
		{"type differs by case bit", func(m *dns.Msg) { m.Question[0].Qtype = 97 }, nil, false},
		{"other class", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, nil, false},
		{"no question", func(m *dns.Msg) { m.Question = nil }, nil, false},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, nil, false},
		{"short", nil, func(b []byte) []byte { return b[:20] }, false},
		{"length octet as letter", nil, func(b []byte) []byte { b[12] = 'C'; return b }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := query.Copy()
			m.Response = true
			m.Extra = nil
			if tt.modify != nil {
				tt.modify(m)
			}
			wire, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if tt.raw != nil {
				wire = tt.raw(wire)
			}
			if got := q.matches(wire); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStripOPT(t *testing.T) {
	a, _ := dns.NewRR("ns.example. 300 IN A 192.0.2.1")
	aaaa, _ := dns.NewRR("ns.example. 300 IN AAAA 2001:db8::1")
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	tests := []struct {
		name  string
		extra []dns.RR
		want  int
	}{
		{"only OPT", []dns.RR{opt}, 0},
		{"OPT between glue", []dns.RR{a, opt, aaaa}, 2},
		{"no OPT", []dns.RR{a}, 1},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &dns.Msg{Extra: tt.extra}
			stripOPT(m)
			if len(m.Extra) != tt.want || hasOPT(m) {
				t.Errorf("extra %v, want %d records without OPT", m.Extra, tt.want)
			}
		})
	}
}

func TestPad(t *testing.T) {
	long := strings.Repeat("abcdefghij.", 15) + "example."
	for _, tt := range []struct {
		name string
		ecs  netip.Prefix
		want int
	}{
		{"x.", netip.Prefix{}, 128},
		{"www.example.com.", netip.MustParsePrefix("2001:db8::/56"), 128},
		{long, netip.Prefix{}, 256},
		{long, netip.MustParsePrefix("192.0.2.0/24"), 256},
	} {
		var b buffers
		q, err := packQuery(b.query[:], dns.Question{Name: tt.name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, false, true, tt.ecs)
		if err != nil {
			t.Fatal(err)
		}
		q.pad()
		q.pad() // idempotent
		if n := len(q.udp()); n != tt.want || int(binary.BigEndian.Uint16(q.tcp())) != n {
			t.Errorf("%s: padded to %d (prefix %d), want %d", tt.name, n, binary.BigEndian.Uint16(q.tcp()), tt.want)
		}
		m := new(dns.Msg)
		if err := m.Unpack(q.udp()); err != nil {
			t.Fatalf("%s: padded query does not parse: %v", tt.name, err)
		}
		opt := m.IsEdns0()
		last := opt.Option[len(opt.Option)-1]
		if _, ok := last.(*dns.EDNS0_PADDING); !ok || !opt.Do() || len(opt.Option) != 1+btoi(tt.ecs.IsValid()) {
			t.Errorf("%s: options %v, want padding last (after ECS if any), DO kept", tt.name, opt.Option)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
