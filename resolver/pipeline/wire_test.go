package pipeline

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// replyUpstream answers every query with the reply its case builds: in
// wire form as the forwarder relays it (OPT removed), or decoded as the
// recursive resolver and the validator answer (Msg set).
type replyUpstream struct {
	reply    func(q dns.Question) *dns.Msg
	compress bool
	decoded  bool
	// wire is the last reply sent in wire form.
	wire atomic.Pointer[[]byte]
}

func (u *replyUpstream) Resolve(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	return u.reply(req.Question), nil
}

func (u *replyUpstream) ResolveAnswer(_ context.Context, req *query.Request) (query.Answer, error) {
	m := u.reply(req.Question)
	if u.decoded {
		return query.Answer{Msg: m}, nil
	}
	m.Compress = u.compress
	b, err := m.Pack()
	if err != nil {
		return query.Answer{}, err
	}
	u.wire.Store(&b)
	return query.Answer{Wire: b}, nil
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// sameMessage fails t unless got and want unpack to the same message.
func sameMessage(t *testing.T, got, want []byte, what, by string) {
	t.Helper()
	var gm, wm dns.Msg
	if err := gm.Unpack(got); err != nil {
		t.Fatalf("%s: does not unpack: %v", what, err)
	}
	if err := wm.Unpack(want); err != nil {
		t.Fatal(err)
	}
	if g, w := gm.String(), wm.String(); g != w {
		t.Fatalf("%s:\n%s\nwant, as %s,\n%s", what, g, by, w)
	}
}

// oldPack is how the chain packed every answer before wire answers: pack,
// and past limit miekg/dns's Truncate and pack again.
func oldPack(resp *dns.Msg, limit int) ([]byte, error) {
	b, err := resp.Pack()
	if err != nil || len(b) <= limit {
		return b, err
	}
	resp.Truncate(limit)
	return resp.Pack()
}

// TestWireAnswersAsTheDecodedPath holds the chain's answers in wire form
// (a miss relayed from the cache's stored wire, and the chain's hit after
// it) to what the decoded path gives for the same query and upstream
// reply — decode, finish, pack, truncate — compared as messages: EDNS or
// not, DO, CD, AD, the client's letter case, truncation at the client's
// size, CNAME chains (decoded: the policy reads their targets), negative
// answers with their SOA, EDE from the step below (decoded), over UDP
// and TCP. Where the answer is relayed, its octets are the upstream's
// (uncompressed here), not a repacking.
func TestWireAnswersAsTheDecodedPath(t *testing.T) {
	const name = "www.example.org."
	soa := "example.org. 900 IN SOA ns.example.org. host.example.org. 1 7200 900 1209600 300"
	many := func(q dns.Question) []dns.RR {
		var rrs []dns.RR
		for i := range 60 {
			rrs = append(rrs, mustRR(fmt.Sprintf("%s 300 IN A 192.0.2.%d", q.Name, i+1)))
		}
		return rrs
	}
	reply := func(rcode int, ans, ns []dns.RR) func(q dns.Question) *dns.Msg {
		return func(q dns.Question) *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(dns.CanonicalName(q.Name), q.Qtype)
			m.Id, m.Response, m.RecursionAvailable, m.Authoritative = 0xbeef, true, true, true
			m.Rcode, m.Answer, m.Ns = rcode, ans, ns
			return m
		}
	}
	type upstreamCase struct {
		name     string
		qtype    uint16
		up       func(q dns.Question) *dns.Msg
		compress bool
		decoded  bool
		relayed  bool // sent as the upstream's octets when they fit
	}
	ups := []upstreamCase{
		{name: "A", qtype: dns.TypeA, relayed: true,
			up: reply(dns.RcodeSuccess, []dns.RR{mustRR(name + " 300 IN A 192.0.2.1"), mustRR(name + " 300 IN A 192.0.2.2")}, nil)},
		{name: "AAAA compressed", qtype: dns.TypeAAAA, compress: true, relayed: true,
			up: reply(dns.RcodeSuccess, []dns.RR{mustRR(name + " 300 IN AAAA 2001:db8::1")}, nil)},
		{name: "MX with authority", qtype: dns.TypeMX, relayed: true,
			up: reply(dns.RcodeSuccess, []dns.RR{mustRR(name + " 300 IN MX 10 mx.example.org.")}, []dns.RR{mustRR("example.org. 3600 IN NS ns.example.org.")})},
		{name: "CNAME chain", qtype: dns.TypeA, up: reply(dns.RcodeSuccess, []dns.RR{
			mustRR(name + " 300 IN CNAME a.example.net."), mustRR("a.example.net. 300 IN CNAME b.example.net."),
			mustRR("b.example.net. 60 IN A 192.0.2.7")}, nil)},
		{name: "NXDOMAIN with SOA", qtype: dns.TypeA, relayed: true, up: reply(dns.RcodeNameError, nil, []dns.RR{mustRR(soa)})},
		{name: "NODATA with SOA", qtype: dns.TypeTXT, relayed: true, up: reply(dns.RcodeSuccess, nil, []dns.RR{mustRR(soa)})},
		{name: "large: truncated over UDP", qtype: dns.TypeA, compress: true, relayed: true,
			up: func(q dns.Question) *dns.Msg { return reply(dns.RcodeSuccess, many(q), []dns.RR{mustRR(soa)})(q) }},
		{name: "large, uncompressed: repacked to truncate", qtype: dns.TypeA, relayed: true,
			up: func(q dns.Question) *dns.Msg { return reply(dns.RcodeSuccess, many(q), []dns.RR{mustRR(soa)})(q) }},
		{name: "validated, AD", qtype: dns.TypeA, decoded: true, relayed: true, up: func(q dns.Question) *dns.Msg {
			m := reply(dns.RcodeSuccess, []dns.RR{mustRR(name + " 300 IN A 192.0.2.3")}, nil)(q)
			m.AuthenticatedData = true
			return m
		}},
		{name: "EDE from the validator", qtype: dns.TypeA, decoded: true, up: func(q dns.Question) *dns.Msg {
			m := reply(dns.RcodeServerFailure, nil, nil)(q)
			m.Extra = []dns.RR{&dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT},
				Option: []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeDNSKEYMissing, ExtraText: "no DNSKEY"}}}}
			return m
		}},
	}
	clients := []struct {
		name  string
		qname string
		edit  func(*dns.Msg)
	}{
		{name: "no EDNS", qname: name},
		{name: "EDNS 1232", qname: name, edit: func(m *dns.Msg) { m.SetEdns0(1232, false) }},
		{name: "EDNS 4096 DO", qname: name, edit: func(m *dns.Msg) { m.SetEdns0(4096, true) }},
		{name: "CD and AD", qname: name, edit: func(m *dns.Msg) { m.CheckingDisabled, m.AuthenticatedData = true, true }},
		{name: "letter case", qname: "WwW.ExAmple.ORG.", edit: func(m *dns.Msg) { m.SetEdns0(1232, false) }},
	}
	clk := clock.NewFake(clock.Real{}.Now()) // stopped: the two paths age alike
	newCache := func(u *replyUpstream) *cache.Cache {
		cfg := cache.Config{Size: 100}
		cfg.SetDefaults()
		c := cache.New(cfg, u, clk, nil, nil)
		t.Cleanup(c.Close)
		return c
	}
	for _, uc := range ups {
		for _, cl := range clients {
			for _, proto := range []query.Proto{query.ProtoUDP, query.ProtoTCP} {
				t.Run(uc.name+"/"+cl.name+"/"+proto.String(), func(t *testing.T) {
					q := new(dns.Msg)
					q.SetQuestion(cl.qname, uc.qtype)
					q.Id = 0x1234
					if cl.edit != nil {
						cl.edit(q)
					}
					pkt, err := q.Pack()
					if err != nil {
						t.Fatal(err)
					}
					client := netip.MustParseAddrPort("127.0.0.1:5353")

					wu := &replyUpstream{reply: uc.up, compress: uc.compress, decoded: uc.decoded}
					pl, err := Build(Parts{Blocking: BlockingConfig{}, Tables: noTables{}, Cache: newCache(wu)})
					if err != nil {
						t.Fatal(err)
					}
					du := &replyUpstream{reply: uc.up, compress: uc.compress, decoded: uc.decoded}
					dc := newCache(du)

					for _, round := range []string{"miss", "hit"} {
						got := pl.Serve(context.Background(), pkt, client, proto, make([]byte, 0, 512))
						// The decoded path, as before wire answers.
						msg := new(dns.Msg)
						if err := msg.Unpack(pkt); err != nil {
							t.Fatal(err)
						}
						req := query.NewRequest(msg, client, proto)
						resp, err := dc.Resolve(context.Background(), req)
						if err != nil || resp == nil {
							t.Fatalf("%s: decoded path: %v, %v", round, resp, err)
						}
						finish(req, resp, DefaultUDPSize)
						limit := dns.MaxMsgSize
						if proto == query.ProtoUDP {
							limit = min(int(req.UDPSize), DefaultUDPSize)
						}
						want, err := oldPack(resp, limit)
						if err != nil {
							t.Fatal(err)
						}
						sameMessage(t, got, want, round+": answer", "the decoded path")
						if len(got) > limit {
							t.Errorf("%s: %d octets past the limit %d", round, len(got), limit)
						}
						up := wu.wire.Load()
						if uc.relayed && !uc.decoded && up != nil {
							opt := 0
							if req.EDNS {
								opt = 11
							}
							// Relayed as received when that fits; else packed again to be cut.
							if len(*up)+opt <= limit && len(got) != len(*up)+opt {
								t.Errorf("%s: %d octets, want the upstream's %d (+%d OPT): relayed as received", round, len(got), len(*up), opt)
							}
						}
					}
				})
			}
		}
	}
}

// truncateSeeds are answers of the shapes truncation meets: many
// addresses, a referral's authority and glue, our OPT last.
func truncateSeeds() []*dns.Msg {
	var out []*dns.Msg
	for _, edns := range []bool{false, true} {
		m := new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)
		m.Response = true
		for i := range 50 {
			m.Answer = append(m.Answer, mustRR(fmt.Sprintf("www.example.org. 300 IN A 192.0.2.%d", i)))
		}
		for i := range 8 {
			m.Ns = append(m.Ns, mustRR(fmt.Sprintf("example.org. 300 IN NS ns%d.example.org.", i)))
			m.Extra = append(m.Extra, mustRR(fmt.Sprintf("ns%d.example.org. 300 IN AAAA 2001:db8::%d", i, i)))
		}
		if edns {
			m.SetEdns0(1232, true)
		}
		out = append(out, m)
	}
	return out
}

// TestTruncateAsMiekg holds the one wire truncation to miekg/dns's
// Truncate, which the chain used before: the same records kept, the
// same TC, at every limit from 512 up.
func TestTruncateAsMiekg(t *testing.T) {
	for i, m := range truncateSeeds() {
		for limit := 500; limit < 1400; limit += 7 {
			t.Run(fmt.Sprintf("%d/%d", i, limit), func(t *testing.T) {
				checkTruncate(t, m.Copy(), limit)
			})
		}
	}
}

// checkTruncate compares truncate with Msg.Truncate on m packed
// compressed, as finish packs.
func checkTruncate(t *testing.T, m *dns.Msg, limit int) {
	t.Helper()
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		return
	}
	got := truncate(append([]byte("pre"), b...), 3, limit)[3:]
	want, err := oldPack(m, limit)
	if err != nil {
		return
	}
	sameMessage(t, got, want, fmt.Sprintf("truncated to %d", limit), "Msg.Truncate")
	if len(got) > max(limit, dns.MinMsgSize) {
		t.Fatalf("truncated to %d: %d octets", limit, len(got))
	}
}

// FuzzTruncate holds truncate to Msg.Truncate on any message miekg/dns
// packs, and on any octets to staying inside them and within the limit
// (a message it cannot walk is cut to its question).
func FuzzTruncate(f *testing.F) {
	for _, m := range truncateSeeds() {
		b, _ := m.Pack()
		f.Add(b, uint16(600))
	}
	f.Fuzz(func(t *testing.T, w []byte, limit uint16) {
		out := truncate(append([]byte(nil), w...), 0, int(limit))
		if len(w) > max(int(limit), dns.MinMsgSize) && len(out) > max(int(limit), dns.MinMsgSize) {
			t.Fatalf("%d octets past the limit %d", len(out), limit)
		}
		m := new(dns.Msg)
		if m.Unpack(w) != nil || m.IsTsig() != nil {
			return
		}
		if opt := m.IsEdns0(); opt != nil && m.Extra[len(m.Extra)-1] != opt {
			return // finish puts our OPT last
		}
		checkTruncate(t, m, int(limit))
	})
}
