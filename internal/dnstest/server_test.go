package dnstest

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// exchange sends one query for name/qtype to s over proto, with EDNS.
func exchange(t *testing.T, s *Server, proto, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, qtype)
	q.SetEdns0(1232, true)
	return send(t, proto, s.Addr, q)
}

// send exchanges q with the server at addr over proto; the test fails
// without a reply.
func send(t *testing.T, proto, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	m, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], err)
	}
	return m
}

func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, rr.String())
	}
	return out
}

func TestZoneAnswers(t *testing.T) {
	s := Start(t, WithZone("example.com."))
	s.Add(
		"www.example.com. 300 IN A 192.0.2.1",
		"alias.example.com. 300 IN CNAME www.example.com.",
		"out.example.com. 300 IN CNAME www.example.org.",
		"a.b.example.com. 300 IN TXT \"deep\"",
	)
	w := Start(t, WithZone("example.net."), WithWildcard())
	w.Add("alias.example.net. 60 IN CNAME cdn.example.net.")

	tests := []struct {
		name   string
		srv    *Server
		q      string
		qtype  uint16
		rcode  int
		answer []string
		soa    bool
	}{
		{"A", s, "www.example.com.", dns.TypeA, dns.RcodeSuccess, []string{"www.example.com.\t300\tIN\tA\t192.0.2.1"}, false},
		{"case-insensitive", s, "WwW.Example.COM.", dns.TypeA, dns.RcodeSuccess, []string{"www.example.com.\t300\tIN\tA\t192.0.2.1"}, false},
		{"CNAME chased", s, "alias.example.com.", dns.TypeA, dns.RcodeSuccess, []string{
			"alias.example.com.\t300\tIN\tCNAME\twww.example.com.", "www.example.com.\t300\tIN\tA\t192.0.2.1"}, false},
		{"CNAME asked", s, "alias.example.com.", dns.TypeCNAME, dns.RcodeSuccess, []string{"alias.example.com.\t300\tIN\tCNAME\twww.example.com."}, false},
		{"CNAME out of zone", s, "out.example.com.", dns.TypeA, dns.RcodeSuccess, []string{"out.example.com.\t300\tIN\tCNAME\twww.example.org."}, false},
		{"NXDOMAIN", s, "nope.example.com.", dns.TypeA, dns.RcodeNameError, nil, true},
		{"NODATA", s, "www.example.com.", dns.TypeAAAA, dns.RcodeSuccess, nil, true},
		{"empty non-terminal", s, "b.example.com.", dns.TypeA, dns.RcodeSuccess, nil, true},
		{"out of zone", s, "www.example.org.", dns.TypeA, dns.RcodeRefused, nil, false},
		{"wildcard A", w, "any.example.net.", dns.TypeA, dns.RcodeSuccess, []string{"any.example.net.\t300\tIN\tA\t" + WildcardA}, false},
		{"wildcard AAAA", w, "any.example.net.", dns.TypeAAAA, dns.RcodeSuccess, []string{"any.example.net.\t300\tIN\tAAAA\t" + WildcardAAAA}, false},
		{"wildcard after CNAME", w, "alias.example.net.", dns.TypeA, dns.RcodeSuccess, []string{
			"alias.example.net.\t60\tIN\tCNAME\tcdn.example.net.", "cdn.example.net.\t300\tIN\tA\t" + WildcardA}, false},
		{"wildcard MX is NODATA", w, "any.example.net.", dns.TypeMX, dns.RcodeSuccess, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, proto := range []string{"udp", "tcp"} {
				m := exchange(t, tt.srv, proto, tt.q, tt.qtype)
				if m.Rcode != tt.rcode {
					t.Errorf("%s: rcode %s, want %s", proto, dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
				}
				if got := answers(m); !slices.Equal(got, tt.answer) {
					t.Errorf("%s: answer %q, want %q", proto, got, tt.answer)
				}
				if gotSOA := len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA; gotSOA != tt.soa {
					t.Errorf("%s: authority %v, want SOA: %v", proto, m.Ns, tt.soa)
				}
			}
		})
	}
}

func TestModes(t *testing.T) {
	tests := []struct {
		mode  Mode
		rcode int
	}{
		{ServFail, dns.RcodeServerFailure},
		{Refused, dns.RcodeRefused},
		{Answer, dns.RcodeSuccess},
	}
	s := Start(t, WithWildcard())
	for _, tt := range tests {
		s.SetMode(tt.mode)
		for _, proto := range []string{"udp", "tcp"} {
			if m := exchange(t, s, proto, "x.test.", dns.TypeA); m.Rcode != tt.rcode {
				t.Errorf("mode %d %s: rcode %s, want %s", tt.mode, proto, dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
		}
	}
}

func TestTimeout(t *testing.T) {
	s := Start(t, WithWildcard())
	s.SetMode(Timeout)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	if m, _, err := c.Exchange(new(dns.Msg).SetQuestion("x.test.", dns.TypeA), s.Addr); err == nil {
		t.Fatalf("got answer %v, want timeout", m)
	}
	if s.Count() != 1 {
		t.Errorf("count %d, want 1", s.Count())
	}
}

func TestTruncateUDP(t *testing.T) {
	s := Start(t, WithWildcard())
	s.SetTruncateUDP(true)
	if m := exchange(t, s, "udp", "x.test.", dns.TypeA); !m.Truncated || len(m.Answer) != 0 || m.IsEdns0() == nil {
		t.Errorf("udp: TC=%v answer=%v opt=%v, want TC, empty, OPT", m.Truncated, m.Answer, m.IsEdns0())
	}
	if m := exchange(t, s, "tcp", "x.test.", dns.TypeA); m.Truncated || len(m.Answer) != 1 {
		t.Errorf("tcp: TC=%v answer=%v, want full answer", m.Truncated, m.Answer)
	}
}

// TestSpoof reads raw datagrams: forged replies first, then the genuine one
// unless the mode is Timeout.
func TestSpoof(t *testing.T) {
	tests := []struct {
		name  string
		spoof Spoof
		mode  Mode
		want  []string // question name of each reply, "+id" for a wrong ID
	}{
		{"wrong ID", SpoofID, Answer, []string{"x.test.+id", "x.test."}},
		{"wrong question", SpoofQuestion, Answer, []string{"spoofed.invalid.", "x.test."}},
		{"both", SpoofID | SpoofQuestion, Answer, []string{"x.test.+id", "spoofed.invalid.", "x.test."}},
		{"forged only", SpoofID, Timeout, []string{"x.test.+id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Start(t, WithWildcard())
			s.SetSpoof(tt.spoof)
			s.SetMode(tt.mode)
			conn, err := net.Dial("udp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			q := new(dns.Msg).SetQuestion("x.test.", dns.TypeA)
			wire, _ := q.Pack()
			if _, err := conn.Write(wire); err != nil {
				t.Fatal(err)
			}
			var got []string
			buf := make([]byte, 4096)
			for range len(tt.want) {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := conn.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				m := new(dns.Msg)
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				desc := m.Question[0].Name
				if m.Id != q.Id {
					desc += "+id"
				}
				if forged := desc != "x.test."; forged && (len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != SpoofA) {
					t.Errorf("forged reply %v lacks %s", m, SpoofA)
				}
				got = append(got, desc)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("replies %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEDNSOptionsAndDelay(t *testing.T) {
	s := Start(t, WithWildcard())
	s.SetEDNSOptions(
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708aabbccddeeff0011"},
		&dns.EDNS0_PADDING{Padding: make([]byte, 16)},
	)
	const delay = 50 * time.Millisecond
	s.SetDelay(delay)
	start := time.Now()
	m := exchange(t, s, "udp", "x.test.", dns.TypeA)
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("answered after %v, want at least %v", elapsed, delay)
	}
	opt := m.IsEdns0()
	if opt == nil || len(opt.Option) != 3 || !opt.Do() || opt.UDPSize() != UDPSize {
		t.Fatalf("OPT %v, want 3 options, DO, size %d", opt, UDPSize)
	}
}

func TestRecordsQueries(t *testing.T) {
	s := Start(t, WithWildcard())
	q := new(dns.Msg).SetQuestion("Rec.Test.", dns.TypeAAAA)
	q.CheckingDisabled = true
	q.SetEdns0(1400, true)
	conn, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &dns.Client{Timeout: 5 * time.Second}
	if _, _, err := c.ExchangeWithConn(q, &dns.Conn{Conn: conn}); err != nil {
		t.Fatal(err)
	}
	exchange(t, s, "tcp", "plain.test.", dns.TypeA)

	got := s.Queries()
	if len(got) != 2 || s.Count() != 2 {
		t.Fatalf("recorded %d (count %d), want 2", len(got), s.Count())
	}
	g := got[0]
	port := conn.LocalAddr().(*net.UDPAddr).Port
	if g.Name != "Rec.Test." || g.Type != dns.TypeAAAA || g.Proto != "udp" || g.ID != q.Id ||
		!g.RD || !g.CD || !g.DO || g.OPT == nil || g.OPT.UDPSize() != 1400 || g.SrcPort != port {
		t.Errorf("recorded %+v, want Rec.Test. AAAA udp id %d RD CD DO size 1400 port %d", g, q.Id, port)
	}
	if got[1].Proto != "tcp" || got[1].Name != "plain.test." {
		t.Errorf("recorded %+v, want plain.test. over tcp", got[1])
	}
	s.Reset()
	if s.Count() != 0 {
		t.Errorf("count after Reset %d", s.Count())
	}
}

func TestWithAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.2:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			if pc, err := net.ListenPacket("udp", addr); err != nil {
				t.Skipf("%s unavailable: %v", addr, err)
			} else {
				pc.Close()
			}
			s := Start(t, WithAddr(addr), WithWildcard())
			host, _, _ := net.SplitHostPort(addr)
			if h, _, _ := net.SplitHostPort(s.Addr); h != host {
				t.Errorf("listening on %s, want host %s", s.Addr, host)
			}
			for _, proto := range []string{"udp", "tcp"} {
				if m := exchange(t, s, proto, "x.test.", dns.TypeA); len(m.Answer) != 1 {
					t.Errorf("%s: answer %v", proto, m.Answer)
				}
			}
		})
	}
}
