package cache

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// Each answer shape is decoded its own way (straight from the wire for the
// common ones, by miekg/dns for the rest); all must give what the client
// would get from the wire itself.
func TestResponseShapesMatchWire(t *testing.T) {
	aaaa := func(name, ip string) dns.RR {
		return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 300}, AAAA: net.ParseIP(ip)}
	}
	cname := func(name, target string, ttl uint32) dns.RR {
		return &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl}, Target: target}
	}
	mx := &dns.MX{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 300}, Preference: 10, Mx: "mail.example."}
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		ans   []dns.RR
		ns    []dns.RR
		shape shape
	}{
		{"one A", dns.TypeA, dns.RcodeSuccess, []dns.RR{a("www.example.", 300, "192.0.2.1")}, nil, shapeA},
		{"two A", dns.TypeA, dns.RcodeSuccess, []dns.RR{a("www.example.", 300, "192.0.2.1"), a("www.example.", 200, "192.0.2.2")}, nil, shapeA},
		{"two AAAA", dns.TypeAAAA, dns.RcodeSuccess, []dns.RR{aaaa("www.example.", "2001:db8::1"), aaaa("www.example.", "2001:db8::2")}, nil, shapeAAAA},
		{"three A", dns.TypeA, dns.RcodeSuccess, []dns.RR{a("www.example.", 300, "192.0.2.1"), a("www.example.", 300, "192.0.2.2"), a("www.example.", 300, "192.0.2.3")}, nil, shapeChain},
		{"CNAME and A", dns.TypeA, dns.RcodeSuccess, []dns.RR{cname("www.example.", "cdn.example.net.", 3600), a("cdn.example.net.", 60, "192.0.2.7")}, nil, shapeChain},
		{"CNAME chain and AAAA", dns.TypeAAAA, dns.RcodeSuccess, []dns.RR{cname("www.example.", "a.cdn.example.", 3600), cname("a.cdn.example.", "b.cdn.example.", 600), aaaa("b.cdn.example.", "2001:db8::7")}, nil, shapeChain},
		{"A and AAAA for ANY", dns.TypeANY, dns.RcodeSuccess, []dns.RR{a("www.example.", 300, "192.0.2.1"), aaaa("www.example.", "2001:db8::1")}, nil, shapeChain},
		{"MX", dns.TypeMX, dns.RcodeSuccess, []dns.RR{mx}, nil, shapeAny},
		{"A with authority", dns.TypeA, dns.RcodeSuccess, []dns.RR{a("www.example.", 300, "192.0.2.1")}, []dns.RR{soa("example.", 900, 300)}, shapeAny},
		{"NXDOMAIN", dns.TypeA, dns.RcodeNameError, nil, []dns.RR{soa("example.", 900, 300)}, shapeAny},
		{"A for another owner", dns.TypeA, dns.RcodeSuccess, []dns.RR{a("other.example.", 300, "192.0.2.1")}, nil, shapeChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTest(t, testConfig(), &fakeNext{reply: fixed(tt.rcode, tt.ans, tt.ns)}, nil)
			req := query("www.example.", tt.qtype, false, false)
			resp := reply(req, tt.rcode, tt.ans, tt.ns)
			e := c.newEntry(c.key(req), resp, epoch())
			if e == nil {
				t.Fatal("not cacheable")
			}
			if e.shape != tt.shape {
				t.Fatalf("shape %d, want %d", e.shape, tt.shape)
			}
			client := query("WWW.Example.", tt.qtype, false, false)
			client.Msg.Id = 4242
			for _, at := range []struct {
				age   uint32
				stale bool
			}{{0, false}, {59, false}, {7200, false}, {0, true}} {
				got := response(&e.meta, e.body, client, at.age, at.stale)
				want := new(dns.Msg)
				if err := want.Unpack(appendAnswer(nil, e.body, client, at.age, at.stale)); err != nil {
					t.Fatal(err)
				}
				want.Compress = true
				if got == nil || got.String() != want.String() || got.Id != 4242 || got.Question[0] != client.Question {
					t.Fatalf("age %d stale %v: decoded\n%v\nwire says\n%v", at.age, at.stale, got, want)
				}
			}
		})
	}
}

// Aging happens in the wire: each record's TTL field is its stored TTL
// less the entry's age, never below 0, or staleTTL when served stale.
func TestAgingFromWire(t *testing.T) {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 3600}, Target: "cdn.example."}
	ans := []dns.RR{cname, a("cdn.example.", 60, "192.0.2.7"), a("cdn.example.", 300, "192.0.2.8")}
	tests := []struct {
		name  string
		age   uint32
		stale bool
		want  []uint32
	}{
		{"fresh", 0, false, []uint32{3600, 60, 300}},
		{"one second", 1, false, []uint32{3599, 59, 299}},
		{"shortest at its end", 60, false, []uint32{3540, 0, 240}},
		{"older than a record", 301, false, []uint32{3299, 0, 0}},
		{"older than all", 1 << 31, false, []uint32{0, 0, 0}},
		{"stale", 10, true, []uint32{staleTTL, staleTTL, staleTTL}},
	}
	c, _ := newTest(t, testConfig(), &fakeNext{}, nil)
	req := query("www.example.", dns.TypeA, false, false)
	e := c.newEntry(c.key(req), reply(req, dns.RcodeSuccess, ans, nil), epoch())
	if e == nil {
		t.Fatal("not cacheable")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := appendAnswer(nil, e.body, req, tt.age, tt.stale)
			m := new(dns.Msg)
			if err := m.Unpack(w); err != nil {
				t.Fatal(err)
			}
			if got := ttls(m); !slices.Equal(got, tt.want) {
				t.Fatalf("wire TTLs %v, want %v", got, tt.want)
			}
			if got := ttls(response(&e.meta, e.body, req, tt.age, tt.stale)); !slices.Equal(got, tt.want) {
				t.Fatalf("decoded TTLs %v, want %v", got, tt.want)
			}
			// The stored body is not touched by serving it.
			if again := ttls(response(&e.meta, e.body, req, 0, false)); !slices.Equal(again, []uint32{3600, 60, 300}) {
				t.Fatalf("stored TTLs changed to %v", again)
			}
		})
	}
}

// Truncation: a truncated answer is never stored, a cut wire form is never
// read, and an answer too large for the client's UDP size is left to the
// responder (which truncates) rather than appended.
func TestTruncationFromWire(t *testing.T) {
	t.Run("TC answers are not stored", func(t *testing.T) {
		next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
			m := reply(req, dns.RcodeSuccess, []dns.RR{a(req.Question.Name, 300, "192.0.2.1")}, nil)
			m.Truncated = true
			return m, nil
		}}
		c, _ := newTest(t, testConfig(), next, nil)
		resolve(t, c, query("a.example.", dns.TypeA, false, false))
		resolve(t, c, query("a.example.", dns.TypeA, false, false))
		if next.n() != 2 || c.Len() != 0 {
			t.Fatalf("next calls %d, Len %d; want 2, 0", next.n(), c.Len())
		}
	})
	t.Run("cut wire is rejected", func(t *testing.T) {
		req := query("www.example.", dns.TypeA, false, false)
		m := reply(req, dns.RcodeSuccess, []dns.RR{a("www.example.", 300, "192.0.2.1"), a("www.example.", 300, "192.0.2.2")}, []dns.RR{soa("example.", 60, 60)})
		m.Compress = true
		w, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(w) {
			if _, ok := ttlOffsets(w[:n]); ok {
				t.Fatalf("wire cut to %d of %d bytes accepted", n, len(w))
			}
		}
		if _, ok := ttlOffsets(append(w, 0)); ok {
			t.Fatal("wire with a trailing byte accepted")
		}
	})

	// 40 A records: 12 + 17 + 40*16 = 669 bytes of wire.
	var ans []dns.RR
	for i := range 40 {
		ans = append(ans, a("big.example.", 300, net.IPv4(192, 0, 2, byte(i)).String()))
	}
	const wireLen = 669
	sizes := []struct {
		name    string
		edns    bool
		udpSize uint16
		proto   contract.Proto
		ok      bool
	}{
		{"fits exactly", false, wireLen, contract.ProtoUDP, true},
		{"one byte short", false, wireLen - 1, contract.ProtoUDP, false},
		{"EDNS: room for the OPT", true, wireLen + 11, contract.ProtoUDP, true},
		{"EDNS: no room for the OPT", true, wireLen + 10, contract.ProtoUDP, false},
		{"TCP has no limit", false, 512, contract.ProtoTCP, true},
	}
	next := &fakeNext{reply: fixed(dns.RcodeSuccess, ans, nil)}
	c, _ := newTest(t, testConfig(), next, nil)
	resolve(t, c, query("big.example.", dns.TypeA, false, false))
	for _, tt := range sizes {
		t.Run(tt.name, func(t *testing.T) {
			req := query("big.example.", dns.TypeA, false, false)
			req.EDNS, req.UDPSize, req.Proto = tt.edns, tt.udpSize, tt.proto
			b, ok := c.AppendWire(nil, req, serveAll{})
			if ok != tt.ok {
				t.Fatalf("AppendWire ok=%v, want %v", ok, tt.ok)
			}
			if ok && len(b) != wireLen {
				t.Fatalf("appended %d bytes, want %d", len(b), wireLen)
			}
		})
	}
}

func TestEvictionByBytes(t *testing.T) {
	tests := []struct {
		name      string
		maxBytes  int
		maxEntry  int
		answerLen int // bytes of TXT per answer
		answers   int
		wantLen   int // entries kept at the end
		wantCalls int // upstream queries when the answers are asked again, newest first
	}{
		// Each entry: its body (the TXT plus ~50 bytes), key, slotOverhead.
		{"large answers evict by bytes", 64 << 10, 16 << 10, 10000, 50, 6, 44},
		{"small answers bound by entries", 1 << 20, 16 << 10, 100, 50, 20, 30},
		{"over the per-entry cap: not cached", 1 << 20, 4 << 10, 5000, 10, 0, 10},
		{"just under the per-entry cap", 1 << 20, 4 << 10, 3900, 10, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Size, cfg.MaxBytes, cfg.MaxEntryBytes = 20, tt.maxBytes, tt.maxEntry
			m := newTestMetrics()
			next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
				return reply(req, dns.RcodeSuccess, []dns.RR{txt(req.Question.Name, tt.answerLen)}, nil), nil
			}}
			c, _ := newTest(t, cfg, next, m.Metrics)
			name := func(i int) string { return "n" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + ".example." }
			for i := range tt.answers {
				resolve(t, c, query(name(i), dns.TypeTXT, false, false))
				if c.Bytes() > tt.maxBytes || c.Len() > cfg.Size {
					t.Fatalf("after %d answers: %d bytes in %d entries, over %d bytes or %d entries", i+1, c.Bytes(), c.Len(), tt.maxBytes, cfg.Size)
				}
			}
			if c.Len() != tt.wantLen {
				t.Fatalf("Len %d, want %d", c.Len(), tt.wantLen)
			}
			m.expect(t, map[string]float64{"entries": float64(tt.wantLen), "bytes": float64(c.Bytes()),
				"evictions": float64(max(tt.answers-tt.wantLen, 0) * b2i(tt.wantLen > 0))})
			before := next.n()
			for i := tt.answers - 1; i >= 0; i-- { // newest first: the kept ones are hits
				m := resolve(t, c, query(name(i), dns.TypeTXT, false, false))
				if len(m.Answer) != 1 || len(m.Answer[0].(*dns.TXT).Txt) == 0 {
					t.Fatalf("answer %d: %v", i, m)
				}
			}
			if got := next.n() - before; got != tt.wantCalls {
				t.Fatalf("%d upstream queries asking again, want %d", got, tt.wantCalls)
			}
		})
	}
}

// txt is a TXT record of about n bytes of text.
func txt(name string, n int) *dns.TXT {
	r := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}}
	for ; n > 0; n -= 255 {
		r.Txt = append(r.Txt, string(make([]byte, min(n, 255))))
	}
	return r
}

// The arena keeps only live records: under a long stream of replaced
// entries it stays within a small multiple of what the entries hold.
func TestArenaStaysCompact(t *testing.T) {
	cfg := testConfig()
	cfg.Size, cfg.MaxBytes = 100, 1<<20
	next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		return reply(req, dns.RcodeSuccess, []dns.RR{txt(req.Question.Name, 500)}, nil), nil
	}}
	c, clk := newTest(t, cfg, next, nil)
	for round := range 50 {
		for i := range 100 {
			resolve(t, c, query("n"+string(rune('a'+i/26))+string(rune('a'+i%26))+".example.", dns.TypeTXT, false, false))
		}
		clk.Advance(301 * time.Second) // all expire: the next round replaces them
		_ = round
	}
	arena := 0
	for i := range c.store.shards {
		sh := &c.store.shards[i]
		arena += sh.alloc
		for _, ch := range sh.old {
			arena += cap(ch)
		}
	}
	if live := c.Bytes(); arena > 2*live || c.Len() != 100 {
		t.Fatalf("arena %d bytes for %d bytes of entries (%d entries)", arena, live, c.Len())
	}
}

// The EDE options of the step below (the validator's reasons) live in the
// body beside the wire form: every hit, aged or stale, carries exactly them
// in an OPT of their own, and such answers never take the wire path, whose
// form has no OPT for them.
func TestEDEFromWire(t *testing.T) {
	ede := func(code uint16, text string) *dns.EDNS0_EDE { return &dns.EDNS0_EDE{InfoCode: code, ExtraText: text} }
	tests := []struct {
		name  string
		rcode int
		ans   []dns.RR
		opts  []dns.EDNS0
		want  []dns.EDNS0_EDE // nil: no OPT on the hit
		wired bool            // AppendWire serves it
	}{
		{"no OPT", dns.RcodeSuccess, []dns.RR{a("x.example.", 300, "192.0.2.1")}, nil, nil, true},
		{"OPT without EDE", dns.RcodeSuccess, []dns.RR{a("x.example.", 300, "192.0.2.1")},
			[]dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "ab"}}, nil, true},
		{"SERVFAIL, signature expired", dns.RcodeServerFailure, nil,
			[]dns.EDNS0{ede(dns.ExtendedErrorCodeSignatureExpired, "RRSIG expired")},
			[]dns.EDNS0_EDE{{InfoCode: dns.ExtendedErrorCodeSignatureExpired, ExtraText: "RRSIG expired"}}, false},
		{"answer with two EDEs, one empty text", dns.RcodeSuccess, []dns.RR{a("x.example.", 300, "192.0.2.1")},
			[]dns.EDNS0{ede(dns.ExtendedErrorCodeDNSSECIndeterminate, ""), &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}, ede(dns.ExtendedErrorCodeOther, "x")},
			[]dns.EDNS0_EDE{{InfoCode: dns.ExtendedErrorCodeDNSSECIndeterminate}, {InfoCode: dns.ExtendedErrorCodeOther, ExtraText: "x"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
				m := reply(req, tt.rcode, tt.ans, nil)
				if tt.opts != nil {
					m.SetEdns0(1232, true)
					m.IsEdns0().Option = tt.opts
				}
				return m, nil
			}}
			c, clk := newTest(t, testConfig(), next, nil)
			for i := range 3 {
				m := resolve(t, c, query("x.example.", dns.TypeA, true, false))
				var got []dns.EDNS0_EDE
				opt := m.IsEdns0()
				if opt != nil {
					for _, o := range opt.Option {
						e, ok := o.(*dns.EDNS0_EDE)
						if !ok {
							t.Fatalf("hit %d: option %v besides the EDEs", i, o)
						}
						got = append(got, *e)
					}
				}
				if (opt != nil) != (tt.want != nil) || !slices.Equal(got, tt.want) {
					t.Fatalf("hit %d: EDEs %v (OPT %v), want %v", i, got, opt != nil, tt.want)
				}
				clk.Advance(time.Second)
			}
			if next.n() != 1 {
				t.Fatalf("next called %d times, want 1", next.n())
			}
			if _, ok := c.AppendWire(nil, query("x.example.", dns.TypeA, true, false), serveAll{}); ok != tt.wired {
				t.Fatalf("AppendWire ok=%v, want %v", ok, tt.wired)
			}
		})
	}
}
