package resolver_test

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// FuzzUDPPacketPath feeds arbitrary bytes through the whole UDP packet path
// — parse, guard (ACL, rate limit, sanity), policy, cache, a fake upstream
// whose answers carry a CNAME chain, finish, truncate, pack — and checks
// that it never panics and that whatever it sends back is a well-formed
// answer to the same ID that fits the UDP size.
func FuzzUDPPacketPath(f *testing.F) {
	b := blocklist.NewBuilder()
	for _, r := range []blocklist.Rule{
		{Name: "evil.example", Scope: blocklist.Subtree, Payload: blocklist.Payload{Action: blocklist.ActionNXDomain}},
		{Name: "null.example", Scope: blocklist.Subtree, Payload: blocklist.Payload{List: 1, Action: blocklist.ActionNull}},
		{Name: "good.evil.example", Scope: blocklist.Subtree, Allow: true, Payload: blocklist.Payload{List: 2}},
	} {
		if err := b.Add(r); err != nil {
			f.Fatal(err)
		}
	}
	set, err := b.Build()
	if err != nil {
		f.Fatal(err)
	}
	var tables atomic.Pointer[blocklist.Table]
	tables.Store(&blocklist.Table{Set: set, Lists: []blocklist.ListInfo{{Name: "a"}, {Name: "b"}, {Name: "c", Allow: true}}})
	upstream := query.ResolverFunc(func(ctx context.Context, req *query.Request) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(req.Question.Name, req.Question.Qtype)
		m.Response = true
		if len(req.Question.Name) > 40 {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "a.", Mbox: "b.", Minttl: 30}}
			return m, nil
		}
		m.Answer = append(m.Answer,
			&dns.CNAME{Hdr: dns.RR_Header{Name: req.Question.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "x.null.example."},
			&dns.A{Hdr: dns.RR_Header{Name: "x.null.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		return m, nil
	})
	clk := clock.NewFake(clock.Real{}.Now())
	ccfg := cache.Config{Size: 1000}
	ccfg.SetDefaults()
	c := cache.New(ccfg, upstream, clk, nil, nil)
	f.Cleanup(c.Close)
	bc := pipeline.BlockingConfig{}
	bc.SetDefaults()
	guard, err := pipeline.NewGuard(pipeline.GuardConfig{
		Chaos:     pipeline.ChaosConfig{Version: "v", ID: "id"},
		RateLimit: pipeline.RateLimitConfig{Rate: 1000, Burst: 1000},
		Clock:     clk,
	}, pipeline.NewPolicy(bc, &tables, c, nil, nil), nil)
	if err != nil {
		f.Fatal(err)
	}
	lc := resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}}
	lc.SetDefaults()
	srv, err := resolver.NewServer(lc, pipeline.New(guard, pipeline.Options{Metrics: nil}), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"www.example.org.", "evil.example.", "good.evil.example.", "null.example.", "version.bind."} {
		for _, edns := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			if edns {
				m.SetEdns0(4096, true)
			}
			w, _ := m.Pack()
			f.Add(w)
		}
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	for _, n := range []int{254, 255, 256, 257} { // around the name length limit
		f.Add(longNameQuery(n))
	}
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		out := srv.ServePacket(context.Background(), pkt, client)
		if out == nil {
			return
		}
		var resp dns.Msg
		if err := resp.Unpack(out); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if len(pkt) < 2 || resp.Id != uint16(pkt[0])<<8|uint16(pkt[1]) || !resp.Response {
			t.Fatalf("answer id %d / QR %v does not answer the query", resp.Id, resp.Response)
		}
		if len(out) > 1232 {
			t.Fatalf("UDP answer of %d bytes", len(out))
		}
	})
}
