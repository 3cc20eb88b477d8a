package resolver_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

func phishingTable(t testing.TB) *blocklist.Table {
	return buildTable(t,
		list{info: blocklist.ListInfo{Name: "phishing", Action: blocklist.ActionNXDomain}, names: []string{"evil.example", "bad.test"}},
		list{info: blocklist.ListInfo{Name: "exceptions", Allow: true}, names: []string{"good.evil.example"}},
	)
}

func TestAllowedNamesResolveOverUDPAndTCP(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	for _, proto := range []string{"udp", "tcp"} {
		for _, name := range []string{"www.example.org", "good.evil.example", "deep.good.evil.example", "notevil.example"} {
			resp := e.query(t, proto, name, dns.TypeA, false)
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
				t.Fatalf("%s %s: rcode %s, %d answers, want one answer", proto, name, dns.RcodeToString[resp.Rcode], len(resp.Answer))
			}
			if got := addrOf(resp.Answer[0]); got != netip.MustParseAddr(dnstest.WildcardA) {
				t.Errorf("%s %s: answer %v, want the upstream's %s", proto, name, got, dnstest.WildcardA)
			}
			if !resp.RecursionAvailable || !resp.Response || resp.Authoritative {
				t.Errorf("%s %s: want RA and QR set, AA clear: %v", proto, name, resp.MsgHdr)
			}
		}
	}
	if got := len(e.log.events(t)); got != 0 {
		t.Errorf("block log has %d events for allowed names", got)
	}
}

func TestBlockActions(t *testing.T) {
	sink := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}
	tab := buildTable(t,
		list{info: blocklist.ListInfo{Name: "nx", Action: blocklist.ActionNXDomain}, names: []string{"nx.test"}},
		list{info: blocklist.ListInfo{Name: "nodata", Action: blocklist.ActionNoData}, names: []string{"nodata.test"}},
		list{info: blocklist.ListInfo{Name: "null", Action: blocklist.ActionNull}, names: []string{"null.test"}},
		list{info: blocklist.ListInfo{Name: "sink", Action: blocklist.ActionSinkhole, Sinkhole: sink}, names: []string{"sink.test"}},
		list{info: blocklist.ListInfo{Name: "refused", Action: blocklist.ActionRefused}, names: []string{"refused.test"}},
		list{info: blocklist.ListInfo{Name: "drop", Action: blocklist.ActionDrop}, names: []string{"drop.test"}},
	)
	e := startEnv(t, tab, envOpts{})
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer string // "" for none
		soa    bool
	}{
		{"nx.test", dns.TypeA, dns.RcodeNameError, "", true},
		{"sub.nx.test", dns.TypeAAAA, dns.RcodeNameError, "", true},
		{"nodata.test", dns.TypeA, dns.RcodeSuccess, "", true},
		{"a.b.nodata.test", dns.TypeMX, dns.RcodeSuccess, "", true},
		{"null.test", dns.TypeA, dns.RcodeSuccess, "0.0.0.0", false},
		{"www.null.test", dns.TypeAAAA, dns.RcodeSuccess, "::", false},
		{"null.test", dns.TypeTXT, dns.RcodeSuccess, "", true},
		{"sink.test", dns.TypeA, dns.RcodeSuccess, "192.0.2.7", false},
		{"x.sink.test", dns.TypeAAAA, dns.RcodeSuccess, "2001:db8::7", false},
		{"refused.test", dns.TypeA, dns.RcodeRefused, "", false},
	}
	for _, tt := range tests {
		for _, proto := range []string{"udp", "tcp"} {
			resp := e.query(t, proto, tt.name, tt.qtype, true)
			id := proto + " " + tt.name + " " + dns.TypeToString[tt.qtype]
			if resp.Rcode != tt.rcode {
				t.Errorf("%s: rcode %s, want %s", id, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			switch {
			case tt.answer == "" && len(resp.Answer) != 0:
				t.Errorf("%s: answers %v, want none", id, resp.Answer)
			case tt.answer != "" && (len(resp.Answer) != 1 || addrOf(resp.Answer[0]) != netip.MustParseAddr(tt.answer)):
				t.Errorf("%s: answers %v, want %s", id, resp.Answer, tt.answer)
			}
			if tt.soa {
				if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA || resp.Ns[0].Header().Ttl != 60 {
					t.Errorf("%s: authority %v, want one SOA with TTL 60", id, resp.Ns)
				} else if !dns.IsSubDomain(resp.Ns[0].Header().Name, dns.Fqdn(tt.name)) {
					t.Errorf("%s: SOA owner %s is not a parent of the query name", id, resp.Ns[0].Header().Name)
				}
			}
			ede := findEDE(resp)
			if ede == nil || ede.InfoCode != dns.ExtendedErrorCodeBlocked || !strings.Contains(ede.ExtraText, "list") {
				t.Errorf("%s: EDE %v, want code 15 naming the list", id, ede)
			}
		}
	}
	// drop: no answer at all over UDP.
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("drop.test.", dns.TypeA)
	if resp, _, err := c.Exchange(m, e.addr); err == nil {
		t.Errorf("drop: got an answer %v", resp)
	}
	if e.ups[0].Count() != 0 {
		t.Errorf("blocked queries reached the upstream %d times", e.ups[0].Count())
	}
	e.blog.Close()
	events := e.log.events(t)
	if len(events) != 2*len(tests)+1 {
		t.Fatalf("block log has %d events, want %d", len(events), 2*len(tests)+1)
	}
	ev := events[0]
	if ev.QName != "nx.test" || ev.QType != "A" || ev.List != "nx" || ev.Rule != "nx.test" || ev.Action != "nxdomain" ||
		ev.Category != "cat-nx" || ev.Protocol != "udp" || ev.Client != "127.0.0.1" || ev.Time.IsZero() {
		t.Errorf("first block event = %+v", ev)
	}
	if got := metricValue(t, e.reg, "bulwark_blocked_total", "list", "nx", "action", "nxdomain"); got != 4 {
		t.Errorf("bulwark_blocked_total{list=nx} = %v, want 4", got)
	}
}

func TestPrecedenceThroughTheServer(t *testing.T) {
	tab := buildTable(t,
		list{info: blocklist.ListInfo{Name: "block"}, names: []string{"evil.example", "binance.updog.co", "usermd.net"}},
		list{info: blocklist.ListInfo{Name: "allow", Allow: true}, names: []string{"good.evil.example", "updog.co", "tenant.usermd.net"}},
	)
	e := startEnv(t, tab, envOpts{})
	tests := []struct {
		name    string
		blocked bool
	}{
		{"evil.example", true},
		{"x.evil.example", true},
		{"good.evil.example", false},     // allow inside block
		{"a.good.evil.example", false},   // below the allow
		{"updog.co", false},              // allowed platform
		{"binance.updog.co", true},       // block inside allow: not widened
		{"login.binance.updog.co", true}, //
		{"usermd.net", true},             //
		{"tenant.usermd.net", false},     //
		{"other.usermd.net", true},       //
		{"EVIL.Example.", true},          // case
		{"evil.example.org", false},      // a suffix is not a parent
	}
	for _, tt := range tests {
		resp := e.query(t, "udp", tt.name, dns.TypeA, false)
		if got := resp.Rcode == dns.RcodeNameError; got != tt.blocked {
			t.Errorf("%s: blocked=%v (rcode %s), want %v", tt.name, got, dns.RcodeToString[resp.Rcode], tt.blocked)
		}
		if resp.Question[0].Name != dns.Fqdn(tt.name) {
			t.Errorf("%s: question echoed as %q, want the client's own spelling", tt.name, resp.Question[0].Name)
		}
	}
}

func TestCNAMECloakingIsBlocked(t *testing.T) {
	tab := buildTable(t, list{info: blocklist.ListInfo{Name: "trackers", Action: blocklist.ActionNXDomain}, names: []string{"tracker.evil.example"}})
	e := startEnv(t, tab, envOpts{})
	e.ups[0].Add(
		"metrics.shop.example. 300 IN CNAME shop.tracker.evil.example.",
		"shop.tracker.evil.example. 300 IN A 192.0.2.99",
		"www.shop.example. 300 IN CNAME cdn.shop.example.",
		"cdn.shop.example. 300 IN A 192.0.2.10",
	)
	resp := e.query(t, "udp", "metrics.shop.example", dns.TypeA, true)
	if resp.Rcode != dns.RcodeNameError || len(resp.Answer) != 0 {
		t.Fatalf("cloaked tracker: rcode %s answers %v, want NXDOMAIN and no answer", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	if resp.Ns[0].Header().Name != "metrics.shop.example." {
		t.Errorf("SOA owner %q, want the query name", resp.Ns[0].Header().Name)
	}
	resp = e.query(t, "udp", "www.shop.example", dns.TypeA, true)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 2 {
		t.Fatalf("clean CNAME chain: rcode %s answers %v", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
	e.blog.Close()
	ev := e.log.events(t)
	if len(ev) != 1 || ev[0].QName != "metrics.shop.example" || ev[0].CNAME != "shop.tracker.evil.example" || ev[0].Rule != "tracker.evil.example" {
		t.Fatalf("block log = %+v", ev)
	}
}

func TestTruncatedUpstreamAnswerRetriedOverTCP(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	e.ups[0].SetTruncateUDP(true)
	resp := e.query(t, "udp", "www.example.org", dns.TypeA, false)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Truncated {
		t.Fatalf("rcode %s answers %v tc=%v, want the full answer", dns.RcodeToString[resp.Rcode], resp.Answer, resp.Truncated)
	}
	var sawTCP bool
	for _, q := range e.ups[0].Queries() {
		sawTCP = sawTCP || q.Proto == "tcp"
	}
	if !sawTCP {
		t.Error("upstream never saw the TCP retry")
	}
}

func TestFailoverToNextUpstream(t *testing.T) {
	for _, mode := range []dnstest.Mode{dnstest.ServFail, dnstest.Refused, dnstest.Timeout} {
		e := startEnv(t, phishingTable(t), envOpts{upstreams: 2, timeout: 3 * time.Second, tryTimeout: 300 * time.Millisecond})
		e.ups[0].SetMode(mode)
		resp := e.query(t, "udp", "www.example.org", dns.TypeA, false)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
			t.Errorf("mode %d: rcode %s answers %v, want the second upstream's answer", mode, dns.RcodeToString[resp.Rcode], resp.Answer)
		}
		if e.ups[0].Count() == 0 || e.ups[1].Count() == 0 {
			t.Errorf("mode %d: upstream queries %d, %d; want both asked", mode, e.ups[0].Count(), e.ups[1].Count())
		}
	}
}

func TestAllUpstreamsDownIsServfailWithinBudget(t *testing.T) {
	budget := time.Second
	e := startEnv(t, phishingTable(t), envOpts{upstreams: 2, timeout: budget, tryTimeout: 300 * time.Millisecond})
	e.ups[0].SetMode(dnstest.Timeout)
	e.ups[1].SetMode(dnstest.ServFail)
	start := time.Now()
	resp := e.query(t, "udp", "www.example.org", dns.TypeA, true)
	elapsed := time.Since(start)
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	// Generous bound: the budget plus scheduling slack on a loaded machine.
	if elapsed > budget+2*time.Second {
		t.Errorf("SERVFAIL after %v, budget %v", elapsed, budget)
	}
	if ede := findEDE(resp); ede == nil || ede.InfoCode != dns.ExtendedErrorCodeNoReachableAuthority {
		t.Errorf("EDE %v, want 22 (no reachable authority)", ede)
	}
	e.ups[0].SetMode(dnstest.Timeout)
	e.ups[1].SetMode(dnstest.Timeout)
	start = time.Now()
	resp = e.query(t, "tcp", "www2.example.org", dns.TypeA, false)
	if resp.Rcode != dns.RcodeServerFailure || time.Since(start) > budget+2*time.Second {
		t.Fatalf("all timing out: rcode %s after %v", dns.RcodeToString[resp.Rcode], time.Since(start))
	}
}

func TestSpoofedUpstreamAnswersIgnored(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	e.ups[0].SetSpoof(dnstest.SpoofID | dnstest.SpoofQuestion)
	for i := 0; i < 5; i++ {
		resp := e.query(t, "udp", "www.example.org", dns.TypeA, false)
		if len(resp.Answer) != 1 || addrOf(resp.Answer[0]) != netip.MustParseAddr(dnstest.WildcardA) {
			t.Fatalf("answer %v, want the genuine %s (spoof is %s)", resp.Answer, dnstest.WildcardA, dnstest.SpoofA)
		}
	}
}

func TestClientEDNS(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	e.ups[0].SetEDNSOptions(&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6e73"}, &dns.EDNS0_PADDING{Padding: make([]byte, 8)})
	resp := e.query(t, "udp", "www.example.org", dns.TypeA, false)
	if resp.IsEdns0() != nil {
		t.Errorf("client sent no EDNS but the answer has OPT %v", resp.IsEdns0())
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	m.SetEdns0(4096, true)
	resp, _, err := (&dns.Client{}).Exchange(m, e.addr)
	if err != nil {
		t.Fatal(err)
	}
	opt := resp.IsEdns0()
	if opt == nil || opt.UDPSize() != 1232 || !opt.Do() || len(opt.Option) != 0 {
		t.Fatalf("OPT %v: want size 1232, DO echoed, no upstream options", opt)
	}
	q := e.ups[0].Queries()
	last := q[len(q)-1]
	if !last.DO || last.OPT == nil || last.OPT.UDPSize() != 1232 {
		t.Errorf("upstream query DO=%v OPT=%v, want DO and size 1232", last.DO, last.OPT)
	}
}

func TestLargeAnswerTruncatedToClientSize(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	for i := 0; i < 60; i++ {
		e.ups[0].Add("big.example.org. 300 IN TXT \"" + strings.Repeat("x", 40) + string(rune('a'+i%26)) + "\"")
	}
	resp := e.query(t, "udp", "big.example.org", dns.TypeTXT, false)
	if !resp.Truncated {
		t.Fatalf("UDP answer to a 512-byte client not truncated (%d answers)", len(resp.Answer))
	}
	resp = e.query(t, "tcp", "big.example.org", dns.TypeTXT, false)
	if resp.Truncated || len(resp.Answer) != 60 {
		t.Fatalf("TCP answer: tc=%v %d answers, want 60", resp.Truncated, len(resp.Answer))
	}
}

func TestGuardSanity(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	notify := new(dns.Msg)
	notify.SetNotify("example.org.")
	noQ := new(dns.Msg)
	noQ.Id = dns.Id()
	twoQ := new(dns.Msg)
	twoQ.SetQuestion("a.example.", dns.TypeA)
	twoQ.Question = append(twoQ.Question, dns.Question{Name: "b.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	badVers := new(dns.Msg)
	badVers.SetQuestion("a.example.", dns.TypeA)
	badVers.SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	chaos := new(dns.Msg)
	chaos.SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	axfr := new(dns.Msg)
	axfr.SetAxfr("example.org.")
	tests := []struct {
		name  string
		msg   *dns.Msg
		rcode int
	}{
		{"notify", notify, dns.RcodeNotImplemented},
		{"no question", noQ, dns.RcodeFormatError},
		{"two questions", twoQ, dns.RcodeFormatError},
		{"edns version 1", badVers, dns.RcodeBadVers},
		{"chaos class", chaos, dns.RcodeRefused},
		{"axfr", axfr, dns.RcodeRefused},
	}
	for _, tt := range tests {
		resp, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(tt.msg, e.addr)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if resp.Rcode != tt.rcode || resp.Id != tt.msg.Id {
			t.Errorf("%s: rcode %s id %d, want %s id %d", tt.name, dns.RcodeToString[resp.Rcode], resp.Id, dns.RcodeToString[tt.rcode], tt.msg.Id)
		}
	}
	if e.ups[0].Count() != 0 {
		t.Errorf("guarded queries reached the upstream %d times", e.ups[0].Count())
	}
}

func TestMalformedPacketsNeverKillTheServer(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	valid := new(dns.Msg)
	valid.SetQuestion("www.example.org.", dns.TypeA)
	wire, _ := valid.Pack()
	junk := [][]byte{
		{},
		{0x12},
		{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, // QDCOUNT=1, no question
		wire[:len(wire)-3], // truncated question
		append([]byte{0xab, 0xcd, 0x81, 0x80}, wire[4:]...), // a response (QR set)
		[]byte(strings.Repeat("\xff", 300)),
		append(append([]byte{}, wire[:12]...), 0xc0, 0x0c, 0, 1, 0, 1), // compression pointer loop
	}
	conn, err := net.Dial("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 512)
	for i, p := range junk {
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			continue // dropped: fine
		}
		var resp dns.Msg
		if err := resp.Unpack(buf[:n]); err != nil {
			t.Errorf("junk %d: unparsable reply: %v", i, err)
		} else if resp.Rcode != dns.RcodeFormatError {
			t.Errorf("junk %d: rcode %s, want FORMERR or silence", i, dns.RcodeToString[resp.Rcode])
		}
	}
	// And the same over TCP, then the server still answers.
	tc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = tc.Write([]byte{0, 5, 1, 2, 3, 4, 5})
	_ = tc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.ReadAll(tc)
	tc.Close()
	for _, proto := range []string{"udp", "tcp"} {
		if resp := e.query(t, proto, "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
			t.Fatalf("%s after junk: rcode %s", proto, dns.RcodeToString[resp.Rcode])
		}
	}
	if got := metricValue(t, e.reg, "bulwark_malformed_queries_total"); got < 4 {
		t.Errorf("bulwark_malformed_queries_total = %v, want at least 4", got)
	}
}

func TestTCPPipelining(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	e.ups[0].SetDelay(50 * time.Millisecond)
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := []string{"a.example.org.", "b.example.org.", "evil.example.", "c.example.org.", "d.example.org.", "x.bad.test.", "e.example.org.", "f.example.org."}
	want := map[uint16]string{}
	var out []byte
	for i, n := range names {
		m := new(dns.Msg)
		m.SetQuestion(n, dns.TypeA)
		m.Id = uint16(1000 + i)
		want[m.Id] = n
		w, _ := m.Pack()
		out = binary.BigEndian.AppendUint16(out, uint16(len(w)))
		out = append(out, w...)
	}
	// All queries in one write: the server must read them all without
	// waiting for each answer.
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	dc := &dns.Conn{Conn: conn}
	for range names {
		resp, err := dc.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		n, ok := want[resp.Id]
		if !ok || resp.Question[0].Name != n {
			t.Fatalf("answer id %d for %v: unexpected", resp.Id, resp.Question)
		}
		delete(want, resp.Id)
	}
	if len(want) != 0 {
		t.Fatalf("no answers for %v", want)
	}
}

func TestTCPIdleConnectionClosed(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{}) // idle timeout 2s
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("idle connection got data instead of being closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("idle connection was not closed by the server")
	}
}

func TestShutdownAnswersQueriesInFlight(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	e.ups[0].SetDelay(400 * time.Millisecond)
	type result struct {
		resp *dns.Msg
		err  error
	}
	res := make(chan result, 2)
	for _, proto := range []string{"udp", "tcp"} {
		go func() {
			m := new(dns.Msg)
			m.SetQuestion("slow-"+proto+".example.org.", dns.TypeA)
			r, _, err := (&dns.Client{Net: proto, Timeout: 5 * time.Second}).Exchange(m, e.addr)
			res <- result{r, err}
		}()
	}
	// Wait until both queries reached the upstream, then shut down.
	for i := 0; i < 200 && e.ups[0].Count() < 2; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for i := 0; i < 2; i++ {
		r := <-res
		if r.err != nil || r.resp.Rcode != dns.RcodeSuccess {
			t.Fatalf("in-flight query: %v %v", r.err, r.resp)
		}
	}
	if _, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(new(dns.Msg).SetQuestion("late.example.org.", dns.TypeA), e.addr); err == nil {
		t.Error("query after shutdown was answered")
	}
}

func TestMetricsCountQueries(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	e.query(t, "udp", "www.example.org", dns.TypeA, false)
	e.query(t, "tcp", "www.example.org", dns.TypeAAAA, false)
	e.query(t, "udp", "evil.example", dns.TypeA, false)
	e.query(t, "udp", "x.example.org", 65280, false)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bulwark_queries_total", []string{"proto", "udp", "qtype", "A"}, 2},
		{"bulwark_queries_total", []string{"proto", "tcp", "qtype", "AAAA"}, 1},
		{"bulwark_queries_total", []string{"qtype", "OTHER"}, 1},
		{"bulwark_responses_total", []string{"rcode", "NXDOMAIN"}, 1},
		{"bulwark_responses_total", []string{"rcode", "NOERROR"}, 3},
		{"bulwark_blocked_total", []string{"list", "phishing", "action", "nxdomain"}, 1},
		{"bulwark_request_duration_seconds", nil, 4},
		{"bulwark_upstream_requests_total", []string{"result", "success"}, 3},
	}
	for _, c := range checks {
		if got := metricValue(t, e.reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
