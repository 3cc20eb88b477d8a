package cache

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

func TestAppendWireMatchesResolve(t *testing.T) {
	tests := []struct {
		name  string
		reply func(context.Context, *contract.Request) (*dns.Msg, error)
	}{
		{"A", answer(300)},
		{"AAAA-less NODATA", fixed(dns.RcodeSuccess, nil, []dns.RR{soa("example.", 900, 300)})},
		{"NXDOMAIN", fixed(dns.RcodeNameError, nil, []dns.RR{soa("example.", 900, 300)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: tt.reply}
			c, clk := newTest(t, testConfig(), next, nil)
			if _, ok := c.AppendWire(nil, query("www.example.", dns.TypeA, false, false), serveAll{}); ok {
				t.Fatal("AppendWire answered a miss")
			}
			resolve(t, c, query("www.example.", dns.TypeA, false, false))
			clk.Advance(42 * time.Second)

			req := query("WwW.eXample.", dns.TypeA, false, false)
			req.Msg.RecursionDesired = false
			prefix := []byte{0xde, 0xad}
			b, ok := c.AppendWire(prefix, req, serveAll{})
			if !ok || !slices.Equal(b[:2], prefix) {
				t.Fatalf("AppendWire ok=%v, prefix kept=%v", ok, ok && slices.Equal(b[:2], prefix))
			}
			got := new(dns.Msg)
			if err := got.Unpack(b[2:]); err != nil {
				t.Fatal(err)
			}
			want := resolve(t, c, req)
			if got.Id != req.Msg.Id || got.RecursionDesired || got.Question[0] != req.Question {
				t.Fatalf("header/question id=%d rd=%v q=%v; want the client's", got.Id, got.RecursionDesired, got.Question[0])
			}
			if got.Rcode != want.Rcode || !slices.Equal(ttls(got), ttls(want)) || len(got.Answer) != len(want.Answer) {
				t.Fatalf("wire answer %v\ndiffers from Resolve's %v", got, want)
			}
		})
	}
}

// AppendWire serves only what its check lets skip the steps above the
// cache (the policy refuses CNAME answers, whose targets it checks on
// every answer); the answer refused stays for Resolve.
func TestAppendWireAsksTheCheck(t *testing.T) {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 3600}, Target: "cdn.example."}
	next := &fakeNext{reply: fixed(dns.RcodeSuccess, []dns.RR{cname, a("cdn.example.", 300, "192.0.2.1")}, nil)}
	c, _ := newTest(t, testConfig(), next, nil)
	resolve(t, c, query("www.example.", dns.TypeA, false, false))
	check := &noAliases{}
	if _, ok := c.AppendWire(nil, query("www.example.", dns.TypeA, false, false), check); ok || check.asked != 1 {
		t.Fatalf("AppendWire served an answer its check refused (asked %d times)", check.asked)
	}
	if _, ok := c.AppendWire(nil, query("www.example.", dns.TypeA, false, false), nil); ok {
		t.Fatal("AppendWire served an answer without a check")
	}
	if got := resolve(t, c, query("www.example.", dns.TypeA, false, false)); len(got.Answer) != 2 || next.calls.Load() != 1 {
		t.Fatalf("Resolve after the refusal: %v (%d upstream calls)", got.Answer, next.calls.Load())
	}
}

func TestAppendWireRefuses(t *testing.T) {
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		var ans []dns.RR
		for i := range 40 {
			ans = append(ans, a(req.Question.Name, 300, "192.0.2."+string(rune('0'+i%10))))
		}
		return reply(req, dns.RcodeSuccess, ans, nil), nil
	}}
	c, clk := newTest(t, testConfig(), next, nil)
	resolve(t, c, query("big.example.", dns.TypeA, false, false))
	if _, ok := c.AppendWire(nil, query("big.example.", dns.TypeA, false, false), serveAll{}); ok {
		t.Fatal("answer larger than 512 bytes appended for a non-EDNS UDP client")
	}
	tcp := query("big.example.", dns.TypeA, false, false)
	tcp.Proto = contract.ProtoTCP
	if _, ok := c.AppendWire(nil, tcp, serveAll{}); !ok {
		t.Fatal("TCP client refused")
	}
	clk.Advance(300 * time.Second)
	if _, ok := c.AppendWire(nil, tcp, serveAll{}); ok {
		t.Fatal("expired entry appended: stale answers need the next step to have failed")
	}
}

func TestTTLOffsets(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("www.example.", dns.TypeA)
	m.Answer = []dns.RR{a("www.example.", 1, "192.0.2.1"), a("www.example.", 2, "192.0.2.2")}
	m.Ns = []dns.RR{soa("example.", 3, 3)}
	m.Compress = true
	w, _ := m.Pack()
	offs, ok := ttlOffsets(w)
	if !ok || len(offs) != 3 {
		t.Fatalf("offsets %v ok=%v", offs, ok)
	}
	for i, off := range offs {
		if got := binary.BigEndian.Uint32(w[off:]); got != uint32(i+1) {
			t.Fatalf("TTL at offset %d is %d, want %d", off, got, i+1)
		}
	}
	for n := range w {
		if _, ok := ttlOffsets(w[:n]); ok {
			t.Fatalf("truncated message of %d bytes accepted", n)
		}
	}
}

// With ECS forwarded, answers are kept per client subnet: a second subnet
// asking the same question is a miss, the first subnet's answer a hit.
func TestSubnetKeyedAnswers(t *testing.T) {
	next := &fakeNext{reply: answer(300)}
	c, _ := newTest(t, testConfig(), next, nil)
	subnetOf := func(req *contract.Request) (netip.Prefix, bool) {
		p, err := req.Client.Addr().Prefix(24)
		return p, err == nil
	}
	WithSubnetKey(subnetOf)(c)
	ask := func(client string) {
		req := query("www.example.", dns.TypeA, false, false)
		req.Client = netip.MustParseAddrPort(client)
		resolve(t, c, req)
	}
	ask("192.0.2.1:1000")
	ask("192.0.2.99:1000") // same /24: a hit
	if got := next.calls.Load(); got != 1 {
		t.Fatalf("same subnet: %d upstream calls, want 1", got)
	}
	ask("198.51.100.1:1000") // another /24: its own answer
	if got := next.calls.Load(); got != 2 {
		t.Fatalf("other subnet: %d upstream calls, want 2", got)
	}
}

// serveAll lets AppendWire serve every answer.
type serveAll struct{}

func (serveAll) ServesWire([]dns.RR) bool { return true }

// noAliases refuses answers with a CNAME, as the policy does.
type noAliases struct{ asked int }

func (n *noAliases) ServesWire(answer []dns.RR) bool {
	n.asked++
	for _, rr := range answer {
		if rr.Header().Rrtype == dns.TypeCNAME {
			return false
		}
	}
	return true
}

// An AddrCheck (the policy with rpz-ip rules) is asked about each address
// of a cached answer, read from the wire form, and an answer holding one it
// refuses is left for Resolve; addresses in other sections do not count.
func TestAppendWireAsksAboutAddresses(t *testing.T) {
	tests := []struct {
		name    string
		answer  []dns.RR
		extra   []dns.RR
		listed  string // the address the check refuses
		checks  bool
		served  bool
		askedAt []string
		qtype   uint16 // 0: A
	}{
		{"clean A", []dns.RR{a("www.example.", 300, "192.0.2.1")}, nil, "198.51.100.9", true, true, []string{"192.0.2.1"}, 0},
		{"listed A", []dns.RR{a("www.example.", 300, "192.0.2.1"), a("www.example.", 300, "198.51.100.9")}, nil, "198.51.100.9", true, false, []string{"192.0.2.1", "198.51.100.9"}, 0},
		{"listed AAAA", []dns.RR{aaaaRR("www.example.", "2001:db8::66")}, nil, "2001:db8::66", true, false, []string{"2001:db8::66"}, dns.TypeAAAA},
		{"listed only in additional", []dns.RR{a("www.example.", 300, "192.0.2.1")}, []dns.RR{a("ns.example.", 300, "198.51.100.9")}, "198.51.100.9", true, true, []string{"192.0.2.1"}, 0},
		{"no rpz-ip rules loaded", []dns.RR{a("www.example.", 300, "198.51.100.9")}, nil, "198.51.100.9", false, true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
				m := reply(req, dns.RcodeSuccess, tt.answer, nil)
				m.Extra = append(m.Extra, tt.extra...)
				return m, nil
			}}
			qtype := tt.qtype
			if qtype == 0 {
				qtype = dns.TypeA
			}
			c, _ := newTest(t, testConfig(), next, nil)
			resolve(t, c, query("www.example.", qtype, false, false))
			check := &addrCheck{listed: netip.MustParseAddr(tt.listed), checks: tt.checks}
			if _, ok := c.AppendWire(nil, query("www.example.", qtype, false, false), check); ok != tt.served {
				t.Errorf("served = %v, want %v", ok, tt.served)
			}
			if !slices.Equal(check.asked, tt.askedAt) {
				t.Errorf("asked about %v, want %v", check.asked, tt.askedAt)
			}
		})
	}
}

func aaaaRR(name, addr string) dns.RR {
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 300}, AAAA: netip.MustParseAddr(addr).AsSlice()}
}

// addrCheck refuses answers holding listed, as the policy does for rpz-ip.
type addrCheck struct {
	serveAll
	listed netip.Addr
	checks bool
	asked  []string
}

func (c *addrCheck) ChecksAddrs() bool { return c.checks }

func (c *addrCheck) ServesAddr(a netip.Addr) bool {
	c.asked = append(c.asked, a.String())
	return a != c.listed
}

// An AliasCheck that refuses every alias is not asked about an answer
// holding one, and the answer is not decoded for it (the fast path's
// CNAME hits go to the chain without a wasted decode); answers without
// aliases are asked about as before.
func TestAppendWireAliasCheck(t *testing.T) {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "cdn.example."}
	tests := []struct {
		name   string
		answer []dns.RR
		served bool
		asked  int
		allocs float64 // at most, per AppendWire
	}{
		{"CNAME chain: refused, not decoded", []dns.RR{cname, a("cdn.example.", 300, "192.0.2.1")}, false, 0, 0},
		{"A: asked, served", []dns.RR{a("www.example.", 300, "192.0.2.1")}, true, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTest(t, testConfig(), &fakeNext{reply: fixed(dns.RcodeSuccess, tt.answer, nil)}, nil)
			q := query("www.example.", dns.TypeA, false, false)
			resolve(t, c, q)
			check := &refusesAliases{}
			if _, ok := c.AppendWire(nil, q, check); ok != tt.served || check.asked != tt.asked {
				t.Fatalf("served %v, asked %d times; want %v, %d", ok, check.asked, tt.served, tt.asked)
			}
			buf := make([]byte, 0, 512)
			if n := testing.AllocsPerRun(100, func() { c.AppendWire(buf[:0], q, check) }); n > tt.allocs {
				t.Errorf("%.0f allocations per AppendWire, want at most %.0f", n, tt.allocs)
			}
		})
	}
}
