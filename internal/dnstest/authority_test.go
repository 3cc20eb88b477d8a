package dnstest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ask sends name/qtype to a over proto, with EDNS when edns is set.
func ask(t *testing.T, a *Authority, proto, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, qtype)
	q.RecursionDesired = false
	if edns {
		q.SetEdns0(1232, false)
	}
	return send(t, proto, a.Addr, q)
}

func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return out
}

func TestHierarchyAnswers(t *testing.T) {
	h := StartHierarchy(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	root, tld, zone := h.Server("127.0.0.2"), h.Server("127.0.0.3"), h.Server("127.0.0.4")
	if h.Port == 0 || root.Addr != "127.0.0.2:"+strconv.Itoa(h.Port) || zone.IP != "127.0.0.4" {
		t.Fatalf("addresses %s %s, port %d", root.Addr, zone.IP, h.Port)
	}
	root.AddZone(".",
		". 86400 IN NS a.root.test.",
		"a.root.test. 86400 IN A 127.0.0.2",
		"test. 86400 IN NS ns.test.",
		"ns.test. 86400 IN A 127.0.0.3",
	)
	tld.AddZone("test.",
		"example.test. 3600 IN NS ns1.example.test.",
		"example.test. 3600 IN NS ns.elsewhere.other.",
		"example.test. 3600 IN DS 1 8 2 0123456789ABCDEF",
		"ns1.example.test. 3600 IN A 127.0.0.4",
		"ns.elsewhere.other. 3600 IN A 127.0.0.66", // out of bailiwick, handed out anyway
	)
	zone.AddZone("example.test.",
		"example.test. 3600 IN NS ns1.example.test.",
		"ns1.example.test. 3600 IN A 127.0.0.4",
		"www.example.test. 300 IN A 192.0.2.1",
		"alias.example.test. 300 IN CNAME www.example.test.",
		"away.example.test. 300 IN CNAME www.other.",
		"a.b.example.test. 300 IN TXT \"deep\"",
		"old.example.test. 300 IN DNAME new.example.test.",
		"x.new.example.test. 300 IN A 192.0.2.2",
	)

	tests := []struct {
		name       string
		srv        *Authority
		q          string
		qtype      uint16
		rcode      int
		aa         bool
		answer, ns []string
		extra      []string
	}{
		{"root referral", root, "www.example.test.", dns.TypeA, dns.RcodeSuccess, false, nil,
			[]string{"test. 86400 IN NS ns.test."}, []string{"ns.test. 86400 IN A 127.0.0.3"}},
		{"priming", root, ".", dns.TypeNS, dns.RcodeSuccess, true, []string{". 86400 IN NS a.root.test."},
			nil, []string{"a.root.test. 86400 IN A 127.0.0.2"}},
		{"tld referral with foreign glue", tld, "www.Example.test.", dns.TypeA, dns.RcodeSuccess, false, nil,
			[]string{"example.test. 3600 IN NS ns1.example.test.", "example.test. 3600 IN NS ns.elsewhere.other."},
			[]string{"ns1.example.test. 3600 IN A 127.0.0.4", "ns.elsewhere.other. 3600 IN A 127.0.0.66"}},
		{"DS at the parent", tld, "example.test.", dns.TypeDS, dns.RcodeSuccess, true,
			[]string{"example.test. 3600 IN DS 1 8 2 0123456789ABCDEF"}, nil, nil},
		{"tld NXDOMAIN", tld, "nope.test.", dns.TypeA, dns.RcodeNameError, true, nil,
			[]string{"test. 60 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"}, nil},
		{"answer", zone, "www.example.test.", dns.TypeA, dns.RcodeSuccess, true, []string{"www.example.test. 300 IN A 192.0.2.1"}, nil, nil},
		{"in-zone CNAME", zone, "alias.example.test.", dns.TypeA, dns.RcodeSuccess, true,
			[]string{"alias.example.test. 300 IN CNAME www.example.test.", "www.example.test. 300 IN A 192.0.2.1"}, nil, nil},
		{"CNAME out of zone", zone, "away.example.test.", dns.TypeA, dns.RcodeSuccess, true,
			[]string{"away.example.test. 300 IN CNAME www.other."}, nil, nil},
		{"DNAME", zone, "x.OLD.example.test.", dns.TypeA, dns.RcodeSuccess, true,
			[]string{"old.example.test. 300 IN DNAME new.example.test.", "x.OLD.example.test. 300 IN CNAME x.new.example.test.",
				"x.new.example.test. 300 IN A 192.0.2.2"}, nil, nil},
		{"NODATA", zone, "www.example.test.", dns.TypeAAAA, dns.RcodeSuccess, true, nil,
			[]string{"example.test. 60 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60"}, nil},
		{"empty non-terminal", zone, "b.example.test.", dns.TypeA, dns.RcodeSuccess, true, nil,
			[]string{"example.test. 60 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60"}, nil},
		{"lame", zone, "www.other.", dns.TypeA, dns.RcodeRefused, false, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, proto := range []string{"udp", "tcp"} {
				m := ask(t, tt.srv, proto, tt.q, tt.qtype, true)
				if m.Rcode != tt.rcode || m.Authoritative != tt.aa {
					t.Errorf("%s: rcode %s AA=%v, want %s AA=%v", proto, dns.RcodeToString[m.Rcode], m.Authoritative, dns.RcodeToString[tt.rcode], tt.aa)
				}
				for _, sec := range []struct {
					name      string
					got, want []string
				}{{"answer", rrStrings(m.Answer), tt.answer}, {"authority", rrStrings(m.Ns), tt.ns}, {"additional", rrStrings(m.Extra), tt.extra}} {
					if !slices.Equal(sec.got, sec.want) {
						t.Errorf("%s: %s %q, want %q", proto, sec.name, sec.got, sec.want)
					}
				}
			}
		})
	}

	got := h.Queries()
	if len(got) != 2*len(tests) || got[0].Server != "127.0.0.2" || got[0].Name != "www.example.test." {
		t.Fatalf("hierarchy saw %d queries, first %v", len(got), got[0])
	}
	if s := got[0].String(); s != "127.0.0.2 udp www.example.test. A" {
		t.Errorf("Seen.String() = %q", s)
	}
	if zone.Count() == 0 || h.Count() != len(got) {
		t.Errorf("counts: zone %d, hierarchy %d", zone.Count(), h.Count())
	}
	h.Reset()
	if h.Count() != 0 || root.Count() != 0 {
		t.Errorf("after Reset: %d, %d", h.Count(), root.Count())
	}
}

func TestAuthorityMisbehaviour(t *testing.T) {
	h := StartHierarchy(t, "127.0.0.2")
	a := h.Server("127.0.0.2")
	a.AddZone("big.test.")
	for i := range 60 {
		a.AddZone("big.test.", "txt.big.test. 300 IN TXT \"record number "+strconv.Itoa(i)+" with some padding to make it long\"")
	}
	a.AddZone("big.test.", "www.big.test. 300 IN A 192.0.2.1")

	// Natural truncation: the TXT set does not fit 1232 bytes.
	if m := ask(t, a, "udp", "txt.big.test.", dns.TypeTXT, true); !m.Truncated {
		t.Errorf("big answer over UDP not truncated (%d records)", len(m.Answer))
	}
	if m := ask(t, a, "tcp", "txt.big.test.", dns.TypeTXT, true); m.Truncated || len(m.Answer) != 60 {
		t.Errorf("TCP: TC=%v, %d records", m.Truncated, len(m.Answer))
	}

	a.SetTruncateUDP(true)
	if m := ask(t, a, "udp", "www.big.test.", dns.TypeA, true); !m.Truncated || len(m.Answer) != 0 {
		t.Errorf("forced truncation: %v", m)
	}
	a.SetTruncateUDP(false)

	a.SetRejectEDNS(true)
	if m := ask(t, a, "udp", "www.big.test.", dns.TypeA, true); m.Rcode != dns.RcodeFormatError || m.IsEdns0() != nil {
		t.Errorf("EDNS query to a pre-EDNS server: %v", m)
	}
	if m := ask(t, a, "udp", "www.big.test.", dns.TypeA, false); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Errorf("plain query to a pre-EDNS server: %v", m)
	}
	a.SetRejectEDNS(false)

	a.SetLowerQName(true)
	if m := ask(t, a, "udp", "WwW.BiG.test.", dns.TypeA, true); m.Question[0].Name != "www.big.test." {
		t.Errorf("question echoed as %q", m.Question[0].Name)
	}
	a.SetLowerQName(false)

	a.AddAdditional("www.bank.test. 300 IN A 192.0.2.66")
	a.AddAuthority("test. 300 IN NS ns.attacker.test.")
	m := ask(t, a, "udp", "www.big.test.", dns.TypeA, true)
	if got := rrStrings(m.Extra); !slices.Contains(got, "www.bank.test. 300 IN A 192.0.2.66") {
		t.Errorf("planted additional missing: %q", got)
	}
	if got := rrStrings(m.Ns); !slices.Equal(got, []string{"test. 300 IN NS ns.attacker.test."}) {
		t.Errorf("planted authority missing: %q", got)
	}

	for _, mode := range []struct {
		mode  Mode
		rcode int
	}{{ServFail, dns.RcodeServerFailure}, {Refused, dns.RcodeRefused}} {
		a.SetMode(mode.mode)
		if m := ask(t, a, "udp", "www.big.test.", dns.TypeA, true); m.Rcode != mode.rcode {
			t.Errorf("mode %d: rcode %d", mode.mode, m.Rcode)
		}
	}
	a.SetMode(Timeout)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("www.big.test.", dns.TypeA), a.Addr); err == nil {
		t.Error("Timeout mode answered")
	}
	a.SetMode(Answer)

	a.SetNoGlue(true)
	a.AddZone("big.test.", "sub.big.test. 300 IN NS ns.sub.big.test.", "ns.sub.big.test. 300 IN A 127.0.0.9")
	if m := ask(t, a, "udp", "x.sub.big.test.", dns.TypeA, true); len(m.Ns) != 2 || len(rrStrings(m.Extra)) != 1 {
		t.Errorf("referral without glue: ns %v extra %v (only the planted records expected)", m.Ns, rrStrings(m.Extra))
	}
}

func TestStartHierarchyRejectsNonLoopback(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		StartHierarchy(ft, "192.0.2.1")
	}()
	if !strings.Contains(ft.msg, "not a loopback address") {
		t.Errorf("StartHierarchy(192.0.2.1) fatal message %q", ft.msg)
	}
}

// fatalRecorder captures Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

func (f *fatalRecorder) Helper() {}

func TestAuthorityRemove(t *testing.T) {
	a := StartAuthority(t, "127.0.0.2:0")
	a.AddZone("example.test.", "www.example.test. 300 IN A 192.0.2.1", "www.example.test. 300 IN TXT \"x\"")
	a.Remove("example.test.", "WWW.example.test.", dns.TypeA)
	if m := ask(t, a, "udp", "www.example.test.", dns.TypeA, false); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
		t.Errorf("after removing the A record: %v", m)
	}
	a.Remove("example.test.", "www.example.test.", dns.TypeTXT)
	if m := ask(t, a, "udp", "www.example.test.", dns.TypeA, false); m.Rcode != dns.RcodeNameError {
		t.Errorf("after removing every record: rcode %d", m.Rcode)
	}
}
