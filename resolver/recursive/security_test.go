package recursive

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// TestOutOfBailiwickGlueIgnored plants forged data where a poisoner would:
// out-of-bailiwick glue in a referral, unrelated "helpful" records in the
// additional section, and an NS takeover of the TLD in the authority
// section of an answer. None of it may be believed: the attacker's server
// is never asked and the answers come from the real servers.
func TestOutOfBailiwickGlueIgnored(t *testing.T) {
	t.Parallel()
	const (
		ipVictim   = worldServer  // the real server of victim.test
		ipAttacker = "127.0.0.66" // where the forged glue points
	)
	h := startWorld(t, ipVictim, ipAttacker)
	// test. delegates victim.test. to a name in example. (so test. is not
	// authoritative for it) and adds glue for it anyway: forged.
	h.Server(ipTest).AddZone("test.",
		"victim.test. 86400 IN NS ns.victim-dns.example.",
		"ns.victim-dns.example. 86400 IN A "+ipAttacker,
	)
	h.Server(ipExample).AddZone("example.",
		"victim-dns.example. 86400 IN NS ns.victim-dns.example.",
		"ns.victim-dns.example. 86400 IN A "+ipVictim,
	)
	// The root hands out a record for the victim with every reply.
	h.Server(ipRoot).AddAdditional("www.victim.test. 86400 IN A 192.0.2.66")
	victim := h.Server(ipVictim)
	victim.AddZone("victim-dns.example.", "ns.victim-dns.example. 3600 IN A "+ipVictim)
	victim.AddZone("victim.test.",
		"victim.test. 3600 IN NS ns.victim-dns.example.",
		"www.victim.test. 300 IN A 192.0.2.10",
	)
	// The victim's server (compromised or confused) claims the whole TLD.
	victim.AddAuthority("test. 86400 IN NS ns.victim-dns.example.")
	attacker := h.Server(ipAttacker)
	attacker.AddZone(".", "www.victim.test. 300 IN A 192.0.2.66", "www.example.test. 300 IN A 192.0.2.66")

	r, _ := newResolver(t, h, nil)
	patient(r)
	m := mustResolve(t, r, "www.victim.test.", dns.TypeA)
	if got := rrs(m.Answer); !slices.Equal(got, []string{"www.victim.test. 300 IN A 192.0.2.10"}) {
		t.Errorf("answer %q, want the real server's", got)
	}
	// After the forged NS for test. was seen, test. names still resolve
	// through the real TLD server.
	h.Reset()
	m = mustResolve(t, r, "www.example.test.", dns.TypeA)
	if got := rrs(m.Answer); !slices.Equal(got, []string{"www.example.test. 300 IN A 192.0.2.1"}) {
		t.Errorf("answer %q, want the real server's", got)
	}
	if countAt(h, ipTest, "example.test.", dns.TypeA) != 1 {
		t.Errorf("www.example.test. did not go through the test. server:\n%q", seen(h))
	}
	if n := attacker.Count(); n != 0 {
		t.Errorf("the attacker's server was asked %d times: %v", n, attacker.Queries())
	}
}

// TestForgedRepliesIgnored races forged replies (wrong ID, wrong question,
// wrong source) ahead of the genuine one at a raw UDP server.
func TestForgedRepliesIgnored(t *testing.T) {
	t.Parallel()
	pc := dnstest.ListenRawUDP(t)
	other := dnstest.ListenRawUDP(t) // a forger on another port
	forge := func(q *dns.Msg, mod func(*dns.Msg)) []byte {
		m := new(dns.Msg).SetReply(q)
		m.Authoritative = true
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: net.ParseIP(dnstest.SpoofA)}}
		if mod != nil {
			mod(m)
		}
		b, _ := m.Pack()
		return b
	}
	dnstest.ServeRawUDP(pc, func(wire []byte, from netip.AddrPort) {
		q := new(dns.Msg)
		if q.Unpack(wire) != nil {
			return
		}
		other.WriteToUDPAddrPort(forge(q, nil), from)                                                                 // right everything, wrong source port
		pc.WriteToUDPAddrPort(forge(q, func(m *dns.Msg) { m.Id++ }), from)                                            // wrong ID
		pc.WriteToUDPAddrPort(forge(q, func(m *dns.Msg) { m.Question[0].Name = "www.evil.test." }), from)             // wrong name
		pc.WriteToUDPAddrPort(forge(q, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }), from)                // wrong type
		pc.WriteToUDPAddrPort(forge(q, func(m *dns.Msg) { m.Response = false }), from)                                // not a response
		pc.WriteToUDPAddrPort([]byte{byte(q.Id >> 8), byte(q.Id), 0x84, 0, 0, 1}, from)                               // truncated junk
		pc.WriteToUDPAddrPort(forge(q, func(m *dns.Msg) { m.Answer[0].(*dns.A).A = net.ParseIP("192.0.2.7") }), from) // genuine
	})
	port := pc.LocalAddr().(*net.UDPAddr).Port
	cfg := DefaultConfig()
	cfg.RootHints, cfg.Port, cfg.QueryLoopback = []string{"127.0.0.1"}, port, true
	r, err := New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := &query{r: r, deadline: time.Now().Add(10 * time.Second)}
	resp, err := q.exchange(context.Background(), netip.MustParseAddr("127.0.0.1"), "www.victim.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := rrs(resp.Answer); !slices.Equal(got, []string{"www.victim.test. 300 IN A 192.0.2.7"}) {
		t.Errorf("accepted %q, want the genuine 192.0.2.7", got)
	}
}

// TestCaseRandomisation: with 0x20 on, servers see mixed-case names, and a
// server that does not echo the case is still usable (asked again as is).
func TestCaseRandomisation(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, reg := newResolver(t, h, func(c *Config) { c.CaseRandomisation = true })
	mustResolve(t, r, "www.example.test.", dns.TypeA)
	mixed := 0
	for _, s := range h.Queries() {
		if s.Name != strings.ToLower(s.Name) {
			mixed++
		}
	}
	// Each name has 4+ letters: all-lower-case by chance in every one of
	// the 4 queries is a 1 in 2^16 event at worst.
	if mixed == 0 {
		t.Errorf("no query name had its case randomised: %q", seen(h))
	}

	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).SetLowerQName(true)
	}
	m := mustResolve(t, r, "alias.example.test.", dns.TypeA)
	if len(m.Answer) != 2 {
		t.Errorf("answer %q", rrs(m.Answer))
	}
	if got := counter(t, reg, "bulwark_recursion_fallbacks_total", fallbackCase); got < 1 {
		t.Errorf("no_0x20 fallbacks = %v, want at least 1", got)
	}
}

func TestRandomCase(t *testing.T) {
	name := "abcdefghijklmnopqrstuvwxyz0123456789-.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnopqrstuvwxyz.test."
	seenUpper, seenLower := false, false
	for range 10 {
		got := randomCase(name)
		if !strings.EqualFold(got, name) || len(got) != len(name) {
			t.Fatalf("randomCase changed more than case: %q", got)
		}
		seenUpper = seenUpper || got != strings.ToLower(got)
		seenLower = seenLower || got != strings.ToUpper(got)
	}
	if !seenUpper || !seenLower {
		t.Errorf("no mixing of case in 10 tries")
	}
	if got := randomCase(`a\.b.`); !strings.EqualFold(got, `a\.b.`) {
		t.Errorf("escapes changed: %q", got)
	}
}

func TestMatchReply(t *testing.T) {
	q := new(dns.Msg).SetQuestion("wWw.Example.test.", dns.TypeA)
	q.Id = 4242
	tests := []struct {
		name      string
		mod       func(*dns.Msg)
		exactCase bool
		want      match
	}{
		{"genuine", nil, true, matchOK},
		{"case folded, 0x20 off", func(m *dns.Msg) { m.Question[0].Name = "www.example.test." }, false, matchOK},
		{"case folded, 0x20 on", func(m *dns.Msg) { m.Question[0].Name = "www.example.test." }, true, matchCase},
		{"wrong ID", func(m *dns.Msg) { m.Id++ }, false, matchNo},
		{"not a response", func(m *dns.Msg) { m.Response = false }, false, matchNo},
		{"notify", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, false, matchNo},
		{"other name", func(m *dns.Msg) { m.Question[0].Name = "www.example.org." }, false, matchNo},
		{"other type", func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }, false, matchNo},
		{"other class", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, false, matchNo},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, false, matchNo},
		{"FORMERR without question", func(m *dns.Msg) { m.Question, m.Rcode = nil, dns.RcodeFormatError }, false, matchOK},
		{"answer without question", func(m *dns.Msg) { m.Question = nil }, false, matchNo},
	}
	for _, tt := range tests {
		m := new(dns.Msg).SetReply(q)
		if tt.mod != nil {
			tt.mod(m)
		}
		if got := matchReply(m, 4242, "wWw.Example.test.", dns.TypeA, tt.exactCase); got != tt.want {
			t.Errorf("%s: match %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestNoLoopbackByDefault: a delegation pointing at loopback (which could
// make the resolver query itself) is not followed unless allowed.
func TestNoLoopbackByDefault(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RootHints = []string{"192.0.2.53"}
	r, err := New(cfg, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1", "::1", "0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "ff02::1"} {
		if r.usable(netip.MustParseAddr(a)) {
			t.Errorf("%s usable by default", a)
		}
	}
	if !r.usable(netip.MustParseAddr("192.0.2.53")) || !r.usable(netip.MustParseAddr("2001:db8::53")) {
		t.Error("unicast addresses unusable")
	}
	cfg.IPv6 = false
	r, _ = New(cfg, nil, nil, nil)
	if r.usable(netip.MustParseAddr("2001:db8::53")) {
		t.Error("IPv6 address usable with ipv6: false")
	}
}

// TestNoInternalTargetsByDefault: a hostile zone whose NS glue points at
// the cloud metadata service, an RFC 1918 host or a ULA is not followed:
// the resolver never sends there, and the query fails (SERVFAIL) instead.
// With query_private the same delegations are followed (the send filter,
// standing in for the network, then refuses the packets).
func TestNoInternalTargetsByDefault(t *testing.T) {
	t.Parallel()
	targets := map[string]string{ // zone -> internal NS address
		"metadata.test.":  "169.254.169.254",
		"rfc1918.test.":   "10.1.2.3",
		"cgnat.test.":     "100.64.0.7",
		"ula.test.":       "fd00::53",
		"linklocal.test.": "fe80::1",
	}
	h := startWorld(t)
	for zone, addr := range targets {
		rrtype := "A"
		if netip.MustParseAddr(addr).Is6() {
			rrtype = "AAAA"
		}
		h.Server(ipTest).AddZone("test.", zone+" 86400 IN NS ns."+zone, "ns."+zone+" 86400 IN "+rrtype+" "+addr)
	}
	for _, allow := range []bool{false, true} {
		r, _ := newResolver(t, h, func(c *Config) { c.QueryPrivate = allow })
		var mu sync.Mutex
		sent := map[netip.Addr]bool{}
		r.sendFilter = func(a netip.Addr) bool {
			mu.Lock()
			defer mu.Unlock()
			sent[a] = true
			return a.IsLoopback()
		}
		for zone, addr := range targets {
			if _, err := resolve(t, r, "www."+zone, dns.TypeA); err == nil {
				t.Errorf("query_private %v: www.%s resolved through %s", allow, zone, addr)
			}
			mu.Lock()
			tried := sent[netip.MustParseAddr(addr)]
			mu.Unlock()
			if tried != allow {
				t.Errorf("query_private %v: sending to %s attempted = %v", allow, addr, tried)
			}
		}
		// Public delegations still resolve.
		mustResolve(t, r, "www.example.test.", dns.TypeA)
	}
}
