package cache

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

func TestKeySeparation(t *testing.T) {
	tests := []struct {
		name   string
		first  *contract.Request
		second *contract.Request
		shared bool
	}{
		{"same question", query("a.example.", dns.TypeA, false, false), query("a.example.", dns.TypeA, false, false), true},
		{"case folded", query("WwW.ExAmPlE.", dns.TypeA, false, false), query("www.example.", dns.TypeA, false, false), true},
		{"escaped letter", query(`\065.example.`, dns.TypeA, false, false), query("a.example.", dns.TypeA, false, false), true},
		{"escaped dot is not a label break", query(`a\.b.example.`, dns.TypeA, false, false), query("a.b.example.", dns.TypeA, false, false), false},
		{"DO separate", query("a.example.", dns.TypeA, true, false), query("a.example.", dns.TypeA, false, false), false},
		{"CD separate", query("a.example.", dns.TypeA, false, true), query("a.example.", dns.TypeA, false, false), false},
		{"type separate", query("a.example.", dns.TypeA, false, false), query("a.example.", dns.TypeAAAA, false, false), false},
		{"class separate", query("a.example.", dns.TypeA, false, false), withClass(query("a.example.", dns.TypeA, false, false), dns.ClassCHAOS), false},
		{"RD and ID do not matter", query("a.example.", dns.TypeA, false, false), withoutRD(query("a.example.", dns.TypeA, false, false)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
				rr := a(req.Question.Name, 300, "192.0.2.1")
				rr.Hdr.Class = req.Question.Qclass
				return reply(req, dns.RcodeSuccess, []dns.RR{rr}, nil), nil
			}}
			c, _ := newTest(t, testConfig(), next, nil)
			resolve(t, c, tt.first)
			m := resolve(t, c, tt.second)
			want := 2
			if tt.shared {
				want = 1
			}
			if next.n() != want {
				t.Fatalf("next called %d times, want %d", next.n(), want)
			}
			if m.Id != tt.second.Msg.Id || m.Question[0] != tt.second.Question || m.RecursionDesired != tt.second.Msg.RecursionDesired {
				t.Fatalf("answer header/question %d %v RD=%v do not echo the request's", m.Id, m.Question[0], m.RecursionDesired)
			}
		})
	}
}

func withClass(r *contract.Request, class uint16) *contract.Request {
	r.Msg.Question[0].Qclass = class
	r.Question.Qclass = class
	return r
}

func withoutRD(r *contract.Request) *contract.Request {
	r.Msg.RecursionDesired = false
	r.Msg.Id++
	return r
}

func TestNotCached(t *testing.T) {
	tests := []struct {
		name  string
		reply func(context.Context, *contract.Request) (*dns.Msg, error)
	}{
		{"truncated", func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
			m := reply(req, dns.RcodeSuccess, []dns.RR{a("a.example.", 300, "192.0.2.1")}, nil)
			m.Truncated = true
			return m, nil
		}},
		{"zero TTL", answer(0)}, // RFC 1035 §3.2.1: use only for this transaction
		{"REFUSED", fixed(dns.RcodeRefused, nil, nil)},
		{"FORMERR", fixed(dns.RcodeFormatError, nil, nil)},
		{"other question", func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
			m := reply(req, dns.RcodeSuccess, []dns.RR{a("b.example.", 300, "192.0.2.1")}, nil)
			m.Question[0].Name = "b.example."
			return m, nil
		}},
		{"other type", func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
			m := reply(req, dns.RcodeSuccess, []dns.RR{a("a.example.", 300, "192.0.2.1")}, nil)
			m.Question[0].Qtype = dns.TypeAAAA
			return m, nil
		}},
		{"no question", func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
			m := reply(req, dns.RcodeSuccess, []dns.RR{a("a.example.", 300, "192.0.2.1")}, nil)
			m.Question = nil
			return m, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: tt.reply}
			c, _ := newTest(t, testConfig(), next, nil)
			for range 2 {
				resolve(t, c, query("a.example.", dns.TypeA, false, false))
			}
			if next.n() != 2 || c.Len() != 0 {
				t.Fatalf("next calls %d, Len %d; want 2, 0", next.n(), c.Len())
			}
		})
	}
}

func TestErrorsNotCached(t *testing.T) {
	boom := errors.New("upstream timeout")
	next := &fakeNext{reply: failing(boom)}
	c, _ := newTest(t, testConfig(), next, nil)
	for range 2 {
		if _, err := c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false)); !errors.Is(err, boom) {
			t.Fatalf("err %v, want %v", err, boom)
		}
	}
	if next.n() != 2 || c.Len() != 0 {
		t.Fatalf("next calls %d, Len %d; want 2, 0", next.n(), c.Len())
	}
	next.set(func(context.Context, *contract.Request) (*dns.Msg, error) { return nil, nil })
	if _, err := c.Resolve(context.Background(), query("a.example.", dns.TypeA, false, false)); err == nil {
		t.Fatal("nil message without error: want an error")
	}
}

func TestAnswerIsCallersCopy(t *testing.T) {
	next := &fakeNext{reply: answer(300)}
	c, _ := newTest(t, testConfig(), next, nil)
	for i := range 3 {
		m := resolve(t, c, query("a.example.", dns.TypeA, false, false))
		if got := ttls(m); !slices.Equal(got, []uint32{300}) || len(m.Answer) != 1 || len(m.Extra) != 0 {
			t.Fatalf("round %d: answer %v changed by an earlier caller", i, m)
		}
		// What the responder does, and worse.
		m.Id = 0xffff
		m.Question[0].Name = "EVIL.example."
		m.Answer[0].Header().Ttl = 1
		m.Answer[0].Header().Name = "evil.example."
		m.Answer = append(m.Answer, a("x.", 1, "192.0.2.9"))
		m.Extra = append(m.Extra, new(dns.OPT))
		m.Rcode = dns.RcodeRefused
	}
	if next.n() != 1 {
		t.Fatalf("next called %d times, want 1", next.n())
	}
}

func TestOPTNotStored(t *testing.T) {
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		m := reply(req, dns.RcodeSuccess, []dns.RR{a("a.example.", 300, "192.0.2.1")}, nil)
		m.SetEdns0(1232, true)
		return m, nil
	}}
	c, _ := newTest(t, testConfig(), next, nil)
	for range 2 {
		if m := resolve(t, c, query("a.example.", dns.TypeA, false, false)); m.IsEdns0() != nil {
			t.Fatal("answer carries the upstream's OPT: the responder adds the client's")
		}
	}
}

func TestSizeZeroPassesThrough(t *testing.T) {
	next := &fakeNext{reply: answer(300)}
	cfg := testConfig()
	cfg.Size = 0
	c, _ := newTest(t, cfg, next, nil)
	for range 3 {
		resolve(t, c, query("a.example.", dns.TypeA, false, false))
	}
	if next.n() != 3 || c.Len() != 0 {
		t.Fatalf("next calls %d, Len %d; want 3, 0", next.n(), c.Len())
	}
	if b, ok := c.AppendWire(nil, query("a.example.", dns.TypeA, false, false), serveAll{}); ok || b != nil {
		t.Fatal("AppendWire answered with the cache off")
	}
}

func TestEviction(t *testing.T) {
	m := newTestMetrics()
	next := &fakeNext{reply: answer(300)}
	cfg := testConfig()
	cfg.Size = 2
	c, _ := newTest(t, cfg, next, m.Metrics)
	for _, name := range []string{"a.example.", "b.example.", "a.example.", "c.example."} {
		resolve(t, c, query(name, dns.TypeA, false, false))
	}
	// a was used after b, so b is the one evicted.
	if c.Len() != 2 || next.n() != 3 {
		t.Fatalf("Len %d, next calls %d; want 2, 3", c.Len(), next.n())
	}
	resolve(t, c, query("a.example.", dns.TypeA, false, false))
	if next.n() != 3 {
		t.Fatal("a was evicted, want b (least recently used)")
	}
	resolve(t, c, query("b.example.", dns.TypeA, false, false))
	if next.n() != 4 {
		t.Fatal("b still cached, want it evicted")
	}
	m.expect(t, map[string]float64{"evictions": 2, "entries": 2})
}

func TestStoreShardsHoldSize(t *testing.T) {
	e := testEntry(t, 100)
	for _, size := range []int{1, 2, 511, 512, 1000, 100000} {
		s := newStore(size, 1<<30, DefaultMaxEntryBytes)
		for n := range 3 * size { // enough that every shard fills
			s.put(key{name: "x.", qtype: uint16(n), flags: uint8(n >> 16)}, e)
		}
		if s.len() != size || len(s.shards)&(len(s.shards)-1) != 0 {
			t.Errorf("size %d: %d shards hold %d", size, len(s.shards), s.len())
		}
	}
}

func TestHitAllocations(t *testing.T) {
	aaaa := func(ip string) dns.RR {
		return &dns.AAAA{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 300}, AAAA: net.ParseIP(ip)}
	}
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "b.example."}
	tests := []struct {
		name   string
		qtype  uint16
		ans    []dns.RR
		allocs float64
	}{
		{"one A", dns.TypeA, []dns.RR{a("a.example.", 300, "192.0.2.1")}, 1},
		{"two AAAA", dns.TypeAAAA, []dns.RR{aaaa("2001:db8::1"), aaaa("2001:db8::2")}, 1},
		// The message and records in one block, plus the target's name.
		{"CNAME and A", dns.TypeA, []dns.RR{cname, a("b.example.", 300, "192.0.2.1")}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: fixed(dns.RcodeSuccess, tt.ans, nil)}
			c, _ := newTest(t, testConfig(), next, nil)
			req := query("a.example.", tt.qtype, false, false)
			want := resolve(t, c, req)
			var got *dns.Msg
			if n := testing.AllocsPerRun(100, func() { got = resolve(t, c, req) }); n != tt.allocs {
				t.Errorf("%v allocations per hit, want %v", n, tt.allocs)
			}
			if got.String() != want.String() {
				t.Fatalf("hit\n%v\ndiffers from miss\n%v", got, want)
			}
		})
	}
}

// TestEDEKept: the Extended DNS Error the step below put on an answer (the
// validator's reason for a SERVFAIL) survives caching, and nothing else of
// that step's OPT does.
func TestEDEKept(t *testing.T) {
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		m := reply(req, dns.RcodeServerFailure, nil, nil)
		m.SetEdns0(1232, true)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeSignatureExpired, ExtraText: "expired"},
			&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "abcd"})
		return m, nil
	}}
	c, _ := newTest(t, testConfig(), next, nil)
	for i := range 2 {
		m := resolve(t, c, query("bogus.example.", dns.TypeA, true, false))
		opt := m.IsEdns0()
		if m.Rcode != dns.RcodeServerFailure || opt == nil || len(opt.Option) != 1 {
			t.Fatalf("answer %d: want SERVFAIL with exactly the EDE, got\n%v", i, m)
		}
		if e, ok := opt.Option[0].(*dns.EDNS0_EDE); !ok || e.InfoCode != dns.ExtendedErrorCodeSignatureExpired {
			t.Fatalf("answer %d: option %v, want EDE 7", i, opt.Option[0])
		}
	}
	if next.n() != 1 {
		t.Fatalf("next called %d times, want 1 (the SERVFAIL is cached)", next.n())
	}
}
