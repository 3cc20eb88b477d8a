package resolver

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// FuzzHandler feeds arbitrary bytes through the packet path (parse, guard,
// policy, a fake upstream answer with a CNAME, finish, pack) and checks that
// it never panics and that whatever it sends back is a well-formed answer to
// the same ID.
func FuzzHandler(f *testing.F) {
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
	upstream := ResolverFunc(func(ctx context.Context, req *Request) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(req.Question.Name, req.Question.Qtype)
		m.Answer = append(m.Answer,
			&dns.CNAME{Hdr: dns.RR_Header{Name: req.Question.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "x.null.example."},
			&dns.A{Hdr: dns.RR_Header{Name: "x.null.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		return m, nil
	})
	bc := BlockingConfig{}
	bc.SetDefaults()
	guard, err := NewGuard(GuardConfig{Chaos: ChaosConfig{Version: "v", ID: "id"}}, NewPolicy(bc, &tables, upstream, nil, nil), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := &handler{
		chain:   guard,
		udpSize: 1232,
		logger:  slog.New(slog.DiscardHandler),
	}
	for _, name := range []string{"www.example.org.", "evil.example.", "good.evil.example.", "null.example."} {
		for _, edns := range []bool{false, true} {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			if edns {
				m.SetEdns0(4096, true)
			}
			w, _ := m.Pack()
			f.Add(w, false)
			f.Add(w, true)
		}
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, false)
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	f.Fuzz(func(t *testing.T, pkt []byte, tcp bool) {
		proto := ProtoUDP
		if tcp {
			proto = ProtoTCP
		}
		out := h.serve(context.Background(), pkt, client, proto, make([]byte, 0, 512))
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
		if proto == ProtoUDP && len(out) > 1232 {
			t.Fatalf("UDP answer of %d bytes", len(out))
		}
	})
}
