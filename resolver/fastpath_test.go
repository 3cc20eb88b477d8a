package resolver_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// fastPair is a server without the UDP fast path and a pipeline with it,
// over one chain and one cache, so that their answers can be compared.
type fastPair struct {
	plain    *resolver.Server
	fast     *pipeline.Pipeline
	clk      *clock.Fake
	upstream *atomic.Int64
}

// answeredFast answers pkt as the UDP listener does (pipeline.ServeUDP)
// and reports whether the fast path answered it.
func (p *fastPair) answeredFast(pkt []byte, client netip.AddrPort) ([]byte, bool) {
	out, handled := p.fast.AnswerFast(pkt, client, make([]byte, 0, 512))
	switch {
	case !handled:
		return p.fast.Serve(context.Background(), pkt, client, query.ProtoUDP, make([]byte, 0, 512)), false
	case len(out) == 0:
		return nil, true // a drop
	}
	return out, true
}

func newFastPair(t testing.TB) *fastPair { return newFastPairLogged(t, nil, nil) }

// newFastPairLogged is newFastPair with a block log and metrics.
func newFastPairLogged(t testing.TB, blog *logs.BlockLog, rm *pipeline.Metrics) *fastPair {
	return newFastPairGuarded(t, blog, rm, pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: []string{"127.0.0.0/8"}}})
}

// newFastPairGuarded is newFastPairLogged with the guard's configuration
// (its clock, if unset, is the pair's).
func newFastPairGuarded(t testing.TB, blog *logs.BlockLog, rm *pipeline.Metrics, gcfg pipeline.GuardConfig) *fastPair {
	sink := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}
	tab := buildTable(t,
		list{info: blocklist.ListInfo{Name: "block"}, names: []string{"evil.example", "cdn.tracker.example", "zip", "=exact.example", "*.below.example"}},
		list{info: blocklist.ListInfo{Name: "allow", Allow: true}, names: []string{"good.evil.example"}},
		list{info: blocklist.ListInfo{Name: "nodata", Action: blocklist.ActionNoData}, names: []string{"nodata.test"}},
		list{info: blocklist.ListInfo{Name: "null", Action: blocklist.ActionNull}, names: []string{"null.test"}},
		list{info: blocklist.ListInfo{Name: "sink", Action: blocklist.ActionSinkhole, Sinkhole: sink}, names: []string{"sink.test"}},
		list{info: blocklist.ListInfo{Name: "refused", Action: blocklist.ActionRefused}, names: []string{"refused.test"}},
		list{info: blocklist.ListInfo{Name: "drop", Action: blocklist.ActionDrop}, names: []string{"drop.test"}},
		list{info: blocklist.ListInfo{Name: "rpz-tcp", Action: blocklist.ActionTCPOnly}, names: []string{"tcponly.test"}},
		list{info: blocklist.ListInfo{Name: "rpz-garden", Action: blocklist.ActionLocal}, names: []string{"garden.test"}, data: 1})
	addRPZTriggers(tab)
	p := &fastPair{clk: clock.NewFake(time.Unix(1e9, 0)), upstream: &atomic.Int64{}}
	up := query.ResolverFunc(func(ctx context.Context, req *query.Request) (*dns.Msg, error) {
		p.upstream.Add(1)
		q := req.Question
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Qtype)
		m.Response, m.Authoritative, m.RecursionAvailable = true, true, true
		rr := func(s string) dns.RR { r, _ := dns.NewRR(s); return r }
		soa := rr("example. 600 IN SOA ns.example. h.example. 1 2 3 4 300")
		switch name := strings.ToLower(q.Name); {
		case strings.HasPrefix(name, "nx."):
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{soa}
		case strings.HasPrefix(name, "alias."):
			m.Answer = []dns.RR{rr(q.Name + " 300 IN CNAME cdn.tracker.example."), rr("cdn.tracker.example. 300 IN A 192.0.2.9")}
		case strings.HasPrefix(name, "badip."): // into an rpz-ip network
			m.Answer = []dns.RR{rr(q.Name + " 300 IN A 198.51.100.66")}
		case strings.HasPrefix(name, "badip0."): // into the first list's rpz-ip network
			m.Answer = []dns.RR{rr(q.Name + " 300 IN A 203.0.113.9")}
		case strings.HasPrefix(name, "signed."):
			m.AuthenticatedData = true // as the validator marks validated answers
			m.Answer = []dns.RR{rr(q.Name + " 300 IN A 192.0.2.3")}
		case strings.HasPrefix(name, "big."):
			for i := 0; i < 40; i++ {
				m.Answer = append(m.Answer, rr(fmt.Sprintf("%s 300 IN A 192.0.2.%d", q.Name, i)))
			}
		case q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{rr(q.Name + " 300 IN A 192.0.2.1"), rr(q.Name + " 200 IN A 192.0.2.2")}
		case q.Qtype == dns.TypeAAAA:
			m.Answer = []dns.RR{rr(q.Name + " 300 IN AAAA 2001:db8::1")}
		default:
			m.Ns = []dns.RR{soa} // NODATA
		}
		return m, nil
	})
	c := newChain(t, chainConfig{table: tab, up: up, clock: p.clk, guard: gcfg, blockLog: blog, metrics: rm})
	p.plain = c.server(t, "127.0.0.1:0", false)
	p.fast = c.pipeline().WithFastPath(c.fastPath(t))
	return p
}

// renderAnswer renders everything a client sees of an answer. Owner names
// are compared case-insensitively: the fast path copies the client's
// question into a packed answer whose owners point at it (compression), so
// they take the client's letter case, which DNS treats as the same name.
func renderAnswer(t *testing.T, b []byte) string {
	t.Helper()
	if b == nil {
		return "<no answer>"
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n", m.MsgHdr.String())
	for _, q := range m.Question {
		fmt.Fprintf(&sb, "Q %s\n", q.String())
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			rr.Header().Name = strings.ToLower(rr.Header().Name)
			fmt.Fprintf(&sb, "%s\n", rr.String())
		}
		sb.WriteString("--\n")
	}
	return sb.String()
}

func TestFastPathAnswersLikeTheChain(t *testing.T) {
	p := newFastPair(t)
	type query struct {
		name   string
		qtype  uint16
		edns   uint16 // 0: none
		do, cd bool
		rd     bool
		id     uint16
		mutate func([]byte) []byte
		slow   bool // the fast path must decline it
	}
	pack := func(q query) []byte {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.Id = q.id
		m.RecursionDesired = q.rd
		m.CheckingDisabled = q.cd
		if q.edns > 0 {
			m.SetEdns0(q.edns, q.do)
		}
		w, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if q.mutate != nil {
			w = q.mutate(w)
		}
		return w
	}
	queries := []query{
		{name: "www.example.org.", qtype: dns.TypeA, rd: true, id: 1},
		{name: "WwW.ExAmple.ORG.", qtype: dns.TypeA, rd: true, id: 2},
		{name: "www.example.org.", qtype: dns.TypeA, edns: 4096, do: true, id: 3},
		{name: "www.example.org.", qtype: dns.TypeA, edns: 1232, id: 4},
		{name: "www.example.org.", qtype: dns.TypeA, cd: true, edns: 1232, id: 5},
		{name: "v6.example.org.", qtype: dns.TypeAAAA, rd: true, id: 6},
		{name: "nx.example.org.", qtype: dns.TypeA, rd: true, id: 7},
		{name: "nodata.example.org.", qtype: dns.TypeMX, rd: true, edns: 1232, id: 8},
		{name: "alias.example.org.", qtype: dns.TypeA, rd: true, id: 9, slow: true}, // CNAME into a blocked name
		{name: "x.evil.example.", qtype: dns.TypeA, rd: true, edns: 1232, id: 10},   // blocked
		{name: "X.Evil.Example.", qtype: dns.TypeAAAA, id: 30},
		{name: "evil.example.", qtype: dns.TypeMX, edns: 1232, do: true, cd: true, id: 31},
		{name: "zip.", qtype: dns.TypeA, id: 32},
		{name: "a.b.zip.", qtype: dns.TypeA, edns: 512, id: 33},
		{name: "exact.example.", qtype: dns.TypeA, id: 34},
		{name: "sub.exact.example.", qtype: dns.TypeA, id: 35}, // not covered by an exact rule
		{name: "below.example.", qtype: dns.TypeA, id: 36},     // not covered by *.below.example
		{name: "x.below.example.", qtype: dns.TypeA, edns: 1232, id: 37},
		{name: "nodata.test.", qtype: dns.TypeA, edns: 1232, id: 38},
		{name: "w.null.test.", qtype: dns.TypeA, id: 39},
		{name: "w.null.test.", qtype: dns.TypeAAAA, edns: 1232, id: 40},
		{name: "w.null.test.", qtype: dns.TypeTXT, id: 41},
		{name: "sink.test.", qtype: dns.TypeA, edns: 1232, id: 42},
		{name: "sink.test.", qtype: dns.TypeAAAA, id: 43},
		{name: "sink.test.", qtype: dns.TypeMX, id: 44},
		{name: "refused.test.", qtype: dns.TypeA, edns: 1232, id: 45},
		{name: "a.drop.test.", qtype: dns.TypeA, id: 46},
		{name: "tcponly.test.", qtype: dns.TypeA, edns: 1232, id: 47},                  // TC=1 over UDP
		{name: "garden.test.", qtype: dns.TypeA, id: 48, slow: true},                   // local data: a CNAME rewrite
		{name: "badip.example.org.", qtype: dns.TypeA, id: 49, slow: true},             // rpz-ip: the chain decides
		{name: "badip.example.org.", qtype: dns.TypeA, edns: 1232, id: 54, slow: true}, // (also with EDNS)
		{name: "good.evil.example.", qtype: dns.TypeA, rd: true, id: 11},               // allowed inside block
		{name: "big.example.org.", qtype: dns.TypeA, rd: true, id: 12, slow: true},     // > 512 bytes: truncated
		{name: "big.example.org.", qtype: dns.TypeA, rd: true, edns: 4096, id: 13},
		{name: "www.example.org.", qtype: dns.TypeA, edns: 1232, id: 14, mutate: func(w []byte) []byte { w[len(w)-5] = 1; return w }, slow: true}, // EDNS version 1
		{name: "www.example.org.", qtype: dns.TypeANY, id: 15, slow: true},
		{name: "under_score.example.org.", qtype: dns.TypeA, id: 16},
		{name: "www.example.org.", qtype: dns.TypeA, id: 17, mutate: func(w []byte) []byte { w[2] |= 0x02; return w }, slow: true}, // TC set in a query
		{name: longName(255), qtype: dns.TypeA, id: 18},                                                                            // the longest name there is
		// One octet longer than a name may be: the guard's FORMERR on both paths.
		{name: longName(255), qtype: dns.TypeA, id: 19, mutate: lengthenName, slow: true},
		{name: "www.example.org.", qtype: dns.TypeA, id: 20, mutate: func(w []byte) []byte { w[2] |= 0x20; return w }, slow: true}, // NOTIFY
	}
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	for _, q := range queries {
		w := pack(q)
		// Warm the cache through the chain, age it, then compare.
		p.plain.ServePacket(context.Background(), w, client)
		p.clk.Advance(7 * time.Second)
		before := p.upstream.Load()
		plain := renderAnswer(t, p.plain.ServePacket(context.Background(), w, client))
		out, took := p.answeredFast(w, client)
		fast := renderAnswer(t, out)
		if took == q.slow {
			t.Errorf("%s %s id %d: fast path answered=%v, want %v", q.name, dns.TypeToString[q.qtype], q.id, took, !q.slow)
		}
		if plain != fast {
			t.Errorf("%s %s id %d: fast path answer differs\nchain:\n%s\nfast:\n%s", q.name, dns.TypeToString[q.qtype], q.id, plain, fast)
		}
		if p.upstream.Load() != before {
			t.Errorf("%s: the comparison reached the upstream", q.name)
		}
	}
	// AD reaches only clients that asked with DO or AD (RFC 6840 §5.7), on
	// both paths.
	for _, q := range []struct {
		q      query
		wantAD bool
	}{
		{query{name: "signed.example.org.", qtype: dns.TypeA, id: 50}, false},
		{query{name: "signed.example.org.", qtype: dns.TypeA, edns: 1232, id: 51}, false},
		{query{name: "signed.example.org.", qtype: dns.TypeA, edns: 1232, do: true, id: 52}, true},
		{query{name: "signed.example.org.", qtype: dns.TypeA, id: 53, mutate: func(w []byte) []byte { w[3] |= 0x20; return w }}, true},
	} {
		w := pack(q.q)
		p.plain.ServePacket(context.Background(), w, client)
		fast, took := p.answeredFast(w, client)
		if !took {
			t.Errorf("id %d: the fast path did not answer", q.q.id)
		}
		for path, out := range map[string][]byte{"chain": p.plain.ServePacket(context.Background(), w, client), "fast path": fast} {
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil {
				t.Fatal(err)
			}
			if m.AuthenticatedData != q.wantAD {
				t.Errorf("%s, id %d: AD=%v, want %v", path, q.q.id, m.AuthenticatedData, q.wantAD)
			}
		}
	}
	// A client outside the ACL is refused either way.
	outside := netip.MustParseAddrPort("192.0.2.77:5353")
	w := pack(queries[0])
	if a, b := renderAnswer(t, p.plain.ServePacket(context.Background(), w, outside)), renderAnswer(t, p.fast.ServeUDP(context.Background(), w, outside, nil)); a != b || !strings.Contains(a, "REFUSED") {
		t.Errorf("outside the ACL: chain %s, fast %s", a, b)
	}
}

// A cached answer asked for in another letter case packs to the same size
// on both paths, so they truncate alike: with a 255-octet name, two A
// records fit 512 octets only when their owners compress into the
// client's question (found by FuzzFastPath).
func TestFastPathLetterCaseOfLongNames(t *testing.T) {
	p := newFastPair(t)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	name := longName(255)
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	w, _ := m.Pack()
	p.plain.ServePacket(context.Background(), w, client) // cached as asked: lower case
	m.SetQuestion(strings.ToUpper(name), dns.TypeA)
	w, _ = m.Pack()
	plain := p.plain.ServePacket(context.Background(), w, client)
	fast, took := p.answeredFast(w, client)
	if !took {
		t.Fatal("the fast path declined a cached answer that fits")
	}
	if a, b := renderAnswer(t, plain), renderAnswer(t, fast); a != b || strings.Contains(a, " tc ") {
		t.Errorf("answers differ or are truncated\nchain:\n%s\nfast:\n%s", a, b)
	}
}

// longName is a name of n wire octets (n >= 66): labels of 63 octets and
// one shorter label.
func longName(n int) string {
	var sb strings.Builder
	for n > 1 {
		l := min(63, n-2)
		if rest := n - 1 - (l + 1); rest > 0 && rest < 2 {
			l-- // leave room for a label of at least one octet
		}
		sb.WriteString(strings.Repeat("a", l) + ".")
		n -= l + 1
	}
	return sb.String()
}

// lengthenName adds one octet to the last label of the packed query w,
// so that its name is one octet longer.
func lengthenName(w []byte) []byte {
	last := 12
	for off := 12; w[off] != 0; off += 1 + int(w[off]) {
		last = off
	}
	out := append([]byte(nil), w[:last]...)
	out = append(out, w[last]+1, 'b')
	return append(out, w[last+1:]...)
}

// FuzzFastPath checks that for any packet the fast path either declines or
// answers exactly as the chain does.
func FuzzFastPath(f *testing.F) {
	p := newFastPair(f)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	for _, name := range []string{"www.example.org.", "nx.example.org.", "x.evil.example.", "alias.example.org.", longName(255)} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		w, _ := m.Pack()
		f.Add(w)
		f.Add(lengthenName(w)) // a 256-octet name when name is the longest
		m.SetEdns0(1232, true)
		w, _ = m.Pack()
		f.Add(w)
	}
	// Names at and past the 255-octet limit.
	for _, n := range []int{254, 255, 256, 257} {
		f.Add(longNameQuery(n))
	}
	// The plain client, and the clients of the rpz-client-ip rules.
	clients := []netip.AddrPort{client, netip.MustParseAddrPort("127.0.0.66:5353"), netip.MustParseAddrPort("127.0.0.67:5353")}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, client := range clients {
			p.plain.ServePacket(context.Background(), pkt, client) // warm
			plain := p.plain.ServePacket(context.Background(), pkt, client)
			fast := p.fast.ServeUDP(context.Background(), pkt, client, nil)
			if (plain == nil) != (fast == nil) {
				t.Fatalf("%s: chain answered %v, fast path %v", client, plain != nil, fast != nil)
			}
			if plain == nil {
				continue
			}
			if a, b := renderAnswer(t, plain), renderAnswer(t, fast); a != b {
				t.Fatalf("%s: answers differ\nchain:\n%s\nfast:\n%s", client, a, b)
			}
		}
	})
}

// Queries the fast path answers are observed like any other, so a query log
// or dnstap sees every query.
func TestFastPathReportsToObservers(t *testing.T) {
	p := newFastPair(t)
	obs := &recorder{} // observe_test.go
	p.fast = p.fast.WithObserver(obs)
	m := new(dns.Msg)
	m.SetQuestion("Obs.Example.org.", dns.TypeA)
	w, _ := m.Pack()
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	p.fast.ServeUDP(context.Background(), w, client, nil) // miss: the chain
	out, fast := p.answeredFast(w, client)                // hit: the fast path
	if !fast {
		t.Fatal("the second query did not take the fast path")
	}
	evs := obs.events()
	if len(evs) != 2 {
		t.Fatalf("observer saw %d events, want 2", len(evs))
	}
	ev := evs[1]
	if ev.QName != "Obs.Example.org." || ev.QType != dns.TypeA || ev.Rcode != dns.RcodeSuccess || ev.Answers != 2 ||
		ev.Proto != query.ProtoUDP || ev.Client != client || string(ev.Response) != string(out) || ev.Received.IsZero() {
		t.Errorf("fast path event %+v", ev)
	}
}

// A block answered on the fast path is logged and counted exactly as the
// chain logs and counts it.
func TestFastPathLogsAndCountsBlocksLikeTheChain(t *testing.T) {
	buf := &syncBuffer{}
	reg := prometheus.NewRegistry()
	rm := pipeline.NewMetrics(reg)
	blog := logs.NewBlockLog(buf, nil, nil)
	p := newFastPairLogged(t, blog, rm)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	names := []string{"WWW.Evil.Example.", "x.null.test.", "a.drop.test.", "x.below.example."}
	for _, name := range names {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeAAAA)
		w, _ := m.Pack()
		p.plain.ServePacket(context.Background(), w, client)
		if _, fast := p.answeredFast(w, client); !fast {
			t.Fatalf("%s: not answered on the fast path", name)
		}
	}
	blog.Close()
	events := buf.events(t)
	if len(events) != 2*len(names) {
		t.Fatalf("%d block log lines, want %d", len(events), 2*len(names))
	}
	for i := 0; i < len(events); i += 2 {
		chain, fast := events[i], events[i+1]
		if chain.Time.IsZero() || fast.Time.IsZero() {
			t.Errorf("event without time: %+v / %+v", chain, fast)
		}
		chain.Time = fast.Time // the two answers are moments apart
		if chain != fast {
			t.Errorf("block log differs:\nchain %+v\nfast  %+v", chain, fast)
		}
	}
	// Each name was blocked once on each path: the chain's count alone
	// would be half of these.
	for l, want := range map[string]float64{"block": 4, "null": 2, "drop": 2} {
		if got := metricValue(t, reg, "bulwark_blocked_total", "list", l); got != want {
			t.Errorf("bulwark_blocked_total{list=%s} = %v, want %v (one per name and path)", l, got, want)
		}
	}
}

// longNameQuery is a query for a name of exactly wireLen octets on the
// wire (labels of 'a' in front of evil.example, which is blocked), built
// by hand because dns.Msg refuses to pack a name past the limit.
func longNameQuery(wireLen int) []byte {
	suffix := []byte("\x04evil\x07example\x00")
	w := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for rest := wireLen - len(suffix); rest > 0; {
		l := min(63, rest-1)
		if rest-(l+1) == 1 { // a lone octet left cannot be a label
			l--
		}
		w = append(w, byte(l))
		w = append(w, bytes.Repeat([]byte("a"), l)...)
		rest -= l + 1
	}
	w = append(w, suffix...)
	return append(w, 0, byte(dns.TypeA), 0, byte(dns.ClassINET))
}

// TestFastPathNameLength: a name is at most 255 octets on the wire (RFC
// 1035 §3.1). The fast path answers up to the limit as the chain does, and
// declines a longer one, which the chain answers FORMERR — never a block.
func TestFastPathNameLength(t *testing.T) {
	p := newFastPair(t)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	for _, tc := range []struct {
		wireLen int
		fast    bool   // the fast path answers it
		rcode   string // of both answers
	}{
		{253, true, "NXDOMAIN"},
		{254, true, "NXDOMAIN"},
		{255, true, "NXDOMAIN"},
		{256, false, "FORMERR"},
		{257, false, "FORMERR"},
		{300, false, "FORMERR"},
	} {
		w := longNameQuery(tc.wireLen)
		if got := len(w) - 12 - 4; got != tc.wireLen {
			t.Fatalf("built a %d-octet name, want %d", got, tc.wireLen)
		}
		plain := p.plain.ServePacket(context.Background(), w, client)
		fast, took := p.answeredFast(w, client)
		if took != tc.fast {
			t.Errorf("%d octets: fast path answered=%v, want %v", tc.wireLen, took, tc.fast)
		}
		for which, b := range map[string][]byte{"chain": plain, "fast": fast} {
			if len(b) < 12 {
				t.Errorf("%d octets: %s sent %d bytes", tc.wireLen, which, len(b))
				continue
			}
			// A FORMERR carries only the header: read the rcode from it.
			if rc := dns.RcodeToString[int(b[3]&0x0f)]; rc != tc.rcode {
				t.Errorf("%d octets: %s answered %s, want %s", tc.wireLen, which, rc, tc.rcode)
			}
		}
		if renderAnswer(t, plain) != renderAnswer(t, fast) {
			t.Errorf("%d octets: the fast path's answer differs from the chain's", tc.wireLen)
		}
	}
}

// The fast path allocates nothing for an answered query, allowed (a cache
// hit) or blocked, into a buffer the listener owns; with the block log on,
// a block's copy of its name is carved from a shared chunk (less than one
// allocation a query).
func TestFastPathAllocatesNothing(t *testing.T) {
	acl := pipeline.ACLConfig{Allow: []string{"127.0.0.0/8"}}
	for _, tc := range []struct {
		name  string
		guard pipeline.GuardConfig
		log   bool
	}{
		{"default rate limit, loopback exempt", pipeline.GuardConfig{ACL: acl}, false},
		// Every query takes a token; the fake clock stands still, so
		// the bucket must hold them all.
		{"rate limited client", pipeline.GuardConfig{ACL: acl, RateLimit: pipeline.RateLimitConfig{
			Rate: 1, Burst: 10000, Exempt: []string{}}}, false},
		{"block log on", pipeline.GuardConfig{ACL: acl}, true},
	} {
		var blog *logs.BlockLog
		if tc.log {
			blog = logs.NewBlockLog(nullWriter{}, nil, nil)
			t.Cleanup(blog.Close)
		}
		p := newFastPairGuarded(t, blog, nil, tc.guard)
		client := netip.MustParseAddrPort("127.0.0.1:5353")
		buf := make([]byte, 0, 4096)
		for _, name := range []string{"www.example.org.", "x.evil.example.", "w.null.test."} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			m.SetEdns0(1232, false)
			w, _ := m.Pack()
			p.plain.ServePacket(context.Background(), w, client) // fill the cache
			if _, ok := p.fast.AnswerFast(w, client, buf[:0]); !ok {
				t.Fatalf("%s: %s: the fast path declined", tc.name, name)
			}
			if n := testing.AllocsPerRun(200, func() { p.fast.AnswerFast(w, client, buf[:0]) }); n != 0 {
				t.Errorf("%s: %s: %v allocations per answered query, want 0", tc.name, name, n)
			}
		}
	}
}
