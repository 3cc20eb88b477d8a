package dnswire_test

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// The named bits are the bits miekg/dns packs for the same header fields.
func TestFlagsMatchMiekg(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*dns.MsgHdr)
		want uint16
	}{
		{"QR", func(h *dns.MsgHdr) { h.Response = true }, dnswire.FlagQR},
		{"AA", func(h *dns.MsgHdr) { h.Authoritative = true }, dnswire.FlagAA},
		{"TC", func(h *dns.MsgHdr) { h.Truncated = true }, dnswire.FlagTC},
		{"RD", func(h *dns.MsgHdr) { h.RecursionDesired = true }, dnswire.FlagRD},
		{"RA", func(h *dns.MsgHdr) { h.RecursionAvailable = true }, dnswire.FlagRA},
		{"AD", func(h *dns.MsgHdr) { h.AuthenticatedData = true }, dnswire.FlagAD},
		{"CD", func(h *dns.MsgHdr) { h.CheckingDisabled = true }, dnswire.FlagCD},
		{"opcode", func(h *dns.MsgHdr) { h.Opcode = 0xF }, dnswire.MaskOpcode},
		{"rcode", func(h *dns.MsgHdr) { h.Rcode = 0xF }, dnswire.MaskRcode},
	} {
		m := new(dns.Msg)
		tc.set(&m.MsgHdr)
		w, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if got := dnswire.Flags(w); got != tc.want {
			t.Errorf("%s: packed flags %#04x, constant %#04x", tc.name, got, tc.want)
		}
	}
}

// ShapeAnswer sets what a resolver's answer header must say and keeps
// what the answer itself decided.
func TestShapeAnswer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		query, resp uint16
		do          bool
		want        uint16
	}{
		{"plain", dnswire.FlagRD, dnswire.FlagQR | dnswire.FlagRD, false,
			dnswire.FlagQR | dnswire.FlagRA | dnswire.FlagRD},
		{"AA and TC cleared", 0, dnswire.FlagQR | dnswire.FlagAA | dnswire.FlagTC | dnswire.FlagRD, false,
			dnswire.FlagQR | dnswire.FlagRA},
		{"CD echoed", dnswire.FlagCD, 0, false, dnswire.FlagQR | dnswire.FlagRA | dnswire.FlagCD},
		{"rcode and AD kept for a client asking with AD", dnswire.FlagAD, dnswire.FlagAD | uint16(dns.RcodeNameError), false,
			dnswire.FlagQR | dnswire.FlagRA | dnswire.FlagAD | uint16(dns.RcodeNameError)},
		{"AD kept for a client asking with DO", 0, dnswire.FlagAD, true, dnswire.FlagQR | dnswire.FlagRA | dnswire.FlagAD},
		{"AD cleared for a client asking with neither", 0, dnswire.FlagAD | uint16(dns.RcodeNameError), false,
			dnswire.FlagQR | dnswire.FlagRA | uint16(dns.RcodeNameError)},
	} {
		w := make([]byte, dnswire.HeaderLen)
		dnswire.SetFlags(w, tc.resp)
		dnswire.ShapeAnswer(w, tc.query, tc.do)
		if got := dnswire.Flags(w); got != tc.want {
			t.Errorf("%s: flags %#04x, want %#04x", tc.name, got, tc.want)
		}
	}
}

func TestParseOPT(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeA)
	m.SetEdns0(4096, true)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	w, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	off := dnswire.HeaderLen + len("\x07example\x00") + 4
	opt, ok := dnswire.ParseOPT(w[off:])
	if !ok || opt.UDPSize != 4096 || !opt.DO || opt.Version != 0 || off+opt.Len != len(w) {
		t.Fatalf("ParseOPT = %+v, %v; record is %d octets", opt, ok, len(w)-off)
	}
	if _, ok := dnswire.ParseOPT(w[off : len(w)-1]); ok {
		t.Error("ParseOPT accepted a record cut short")
	}
}

// AppendBlock's answers are what the actions promise, and well-formed.
func TestAppendBlock(t *testing.T) {
	sink := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}
	question := func(name string, qtype uint16) []byte {
		buf := make([]byte, 256)
		n, err := dns.PackDomainName(name, buf, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return append(buf[:n], byte(qtype>>8), byte(qtype), 0, 1)
	}
	for _, tc := range []struct {
		name   string
		qname  string
		qtype  uint16
		owner  int
		action blocklist.Action
		edns   bool
		rcode  int
		answer []string // the answer section's types
		soa    string   // the SOA's owner, "" for none
	}{
		{"nxdomain", "www.Evil.example.", dns.TypeA, 4, blocklist.ActionNXDomain, true, dns.RcodeNameError, nil, "Evil.example."},
		{"nodata", "evil.example.", dns.TypeA, 0, blocklist.ActionNoData, false, dns.RcodeSuccess, nil, "evil.example."},
		{"refused", "evil.example.", dns.TypeA, 0, blocklist.ActionRefused, true, dns.RcodeRefused, nil, ""},
		{"null A", "evil.example.", dns.TypeA, 0, blocklist.ActionNull, false, dns.RcodeSuccess, []string{"A"}, ""},
		{"null TXT", "evil.example.", dns.TypeTXT, 0, blocklist.ActionNull, false, dns.RcodeSuccess, nil, "evil.example."},
		{"sinkhole AAAA", "evil.example.", dns.TypeAAAA, 0, blocklist.ActionSinkhole, true, dns.RcodeSuccess, []string{"AAAA"}, ""},
		{"root rule", "evil.example.", dns.TypeA, -1, blocklist.ActionNXDomain, false, dns.RcodeNameError, nil, "."},
	} {
		b := dnswire.Block{ID: 0xBEEF, Flags: dnswire.FlagRD, Question: question(tc.qname, tc.qtype), QType: tc.qtype,
			Owner: tc.owner, Action: tc.action, Sinkhole: sink, TTL: 60, EDNS: tc.edns, DO: true, UDPSize: 1232, List: "phish"}
		m := new(dns.Msg)
		if err := m.Unpack(dnswire.AppendBlock([]byte{}, &b)); err != nil {
			t.Fatalf("%s: the answer does not unpack: %v", tc.name, err)
		}
		if m.Id != 0xBEEF || !m.Response || !m.RecursionDesired || !m.RecursionAvailable || m.Rcode != tc.rcode ||
			len(m.Question) != 1 || m.Question[0].Name != tc.qname {
			t.Errorf("%s: header or question wrong:\n%v", tc.name, m)
		}
		var types []string
		for _, rr := range m.Answer {
			types = append(types, dns.TypeToString[rr.Header().Rrtype])
		}
		if len(types) != len(tc.answer) || len(types) > 0 && types[0] != tc.answer[0] {
			t.Errorf("%s: answer %v, want %v", tc.name, types, tc.answer)
		}
		var soa string
		if len(m.Ns) == 1 {
			if s, ok := m.Ns[0].(*dns.SOA); ok && s.Minttl == 60 && s.Hdr.Ttl == 60 && s.Ns == "bulwark.invalid." {
				soa = s.Hdr.Name
			}
		}
		if soa != tc.soa {
			t.Errorf("%s: SOA owner %q, want %q (authority %v)", tc.name, soa, tc.soa, m.Ns)
		}
		opt := m.IsEdns0()
		if (opt != nil) != tc.edns {
			t.Fatalf("%s: OPT %v, want EDNS %v", tc.name, opt, tc.edns)
		}
		if opt != nil {
			ede, ok := opt.Option[0].(*dns.EDNS0_EDE)
			if !ok || ede.InfoCode != dns.ExtendedErrorCodeBlocked || ede.ExtraText != "blocked by list phish" || !opt.Do() || opt.UDPSize() != 1232 {
				t.Errorf("%s: OPT %v", tc.name, opt)
			}
		}
	}
}

// TestEqualFold: ASCII letters fold, nothing else does (RFC 4343), in
// presentation and wire form alike.
func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		why  string
		a, b string
		want bool
	}{
		{"letter case", "www.Example.ORG.", "WWW.example.org.", true},
		{"empty", "", "", true},
		{"length", "a.example.", "a.example", false},
		{"0x5b and 0x7b are no letters", "[.example.", "{.example.", false},
		{"Unicode is not folded", "\xc3\x84.example.", "\xc3\xa4.example.", false},
		{"wire form", "\x03WWW\x07example\x00", "\x03www\x07EXAMPLE\x00", true},
		{"wire form, other letter", "\x01a", "\x01b", false},
	} {
		if got := dnswire.EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: EqualFold(%q, %q) = %v, want %v", tc.why, tc.a, tc.b, got, tc.want)
		}
		if got := dnswire.EqualFold([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("%s: EqualFold([]byte(%q), []byte(%q)) = %v, want %v", tc.why, tc.a, tc.b, got, tc.want)
		}
	}
	for c := 0; c < 256; c++ {
		want := byte(c)
		if 'A' <= c && c <= 'Z' {
			want = byte(c) + 32
		}
		if got := dnswire.Lower(byte(c)); got != want {
			t.Errorf("Lower(%#x) = %#x, want %#x", c, got, want)
		}
	}
}
