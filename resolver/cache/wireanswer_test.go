package cache

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// checkFunc is a ServesWire check, an AddrCheck when addr is set.
type checkFunc struct {
	aliases bool                  // serves answers with aliases
	addr    func(netip.Addr) bool // nil: no address check
}

func (c checkFunc) ServesWire(a []dns.RR) bool { return c.aliases || len(a) == 0 }
func (c checkFunc) ChecksAddrs() bool          { return c.addr != nil }
func (c checkFunc) ServesAddr(a netip.Addr) bool {
	return c.addr == nil || c.addr(a)
}

// wireRequest is q with room for a wire answer under check.
func wireRequest(q *contract.Request, check interface{ ServesWire([]dns.RR) bool }) *contract.Request {
	w := *q
	w.Wire = &contract.WireAnswer{Check: check}
	return &w
}

// TestWireAnswers pins when Resolve answers in wire form (query.WireAnswer)
// and that such an answer is the decoded answer's message: on the miss that
// stores it, on fresh and aged hits, served stale, and for every waiter of
// a coalesced miss; and that answers the check or the wire form cannot
// carry (CNAME/DNAME, a listed address, EDE, no check) are decoded.
func TestWireAnswers(t *testing.T) {
	boom := errors.New("upstream timeout")
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: "b.example."}
	withEDE := func(_ context.Context, req *contract.Request) (*dns.Msg, error) {
		m := reply(req, dns.RcodeServerFailure, nil, nil)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeDNSBogus, ExtraText: "bogus"}}
		return m, nil
	}
	tests := []struct {
		name  string
		first func(context.Context, *contract.Request) (*dns.Msg, error)
		check interface{ ServesWire([]dns.RR) bool }
		at    time.Duration // the second query, after the first
		then  func(context.Context, *contract.Request) (*dns.Msg, error)
		wire  bool // both answers in wire form
	}{
		{name: "A, then an aged hit", first: answer(300), check: checkFunc{}, at: 100 * time.Second, wire: true},
		{name: "NXDOMAIN with SOA", first: fixed(dns.RcodeNameError, nil, []dns.RR{soa("example.", 300, 60)}), check: checkFunc{}, at: 10 * time.Second, wire: true},
		{name: "served stale", first: answer(60), check: checkFunc{}, at: 61 * time.Second, then: failing(boom), wire: true},
		{name: "CNAME: decoded for the policy", first: fixed(dns.RcodeSuccess, []dns.RR{cname, a("b.example.", 300, "192.0.2.1")}, nil),
			check: checkFunc{aliases: true}},
		{name: "a listed address: decoded", first: answer(300), check: checkFunc{addr: func(netip.Addr) bool { return false }}},
		{name: "EDE: decoded", first: withEDE, check: checkFunc{}},
		{name: "no check: decoded", first: answer(300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.StaleMax = time.Hour
			next, dnext := &fakeNext{reply: tt.first}, &fakeNext{reply: tt.first}
			c, clk := newTest(t, cfg, next, nil)
			dc, dclk := newTest(t, cfg, dnext, nil)
			q := query("a.example.", dns.TypeA, false, false)
			for i := range 2 {
				if i == 1 {
					clk.Advance(tt.at)
					dclk.Advance(tt.at)
					if tt.then != nil {
						next.set(tt.then)
						dnext.set(tt.then)
					}
				}
				wq := wireRequest(q, tt.check)
				m := resolve(t, c, wq)
				want := resolve(t, dc, q)
				if served := wq.Wire.Served; served != tt.wire || served != (m == nil) {
					t.Fatalf("query %d: served in wire form %v (message %v), want %v", i, served, m != nil, tt.wire)
				}
				if m == nil {
					m = new(dns.Msg)
					if err := m.Unpack(wq.Wire.Buf); err != nil {
						t.Fatalf("query %d: the wire answer does not unpack: %v", i, err)
					}
				}
				if g, w := m.String(), want.String(); g != w {
					t.Fatalf("query %d:\n%s\nwant, decoded,\n%s", i, g, w)
				}
			}
		})
	}
}

// TestWireAnswersCoalesced: every waiter of one miss gets the answer in its
// own buffer, whichever led.
func TestWireAnswersCoalesced(t *testing.T) {
	release := make(chan struct{})
	next := &fakeNext{reply: func(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
		<-release
		return answer(300)(ctx, req)
	}}
	c, _ := newTest(t, testConfig(), next, nil)
	const n = 8
	reqs := make([]*contract.Request, n)
	var wg sync.WaitGroup
	for i := range reqs {
		reqs[i] = wireRequest(query("a.example.", dns.TypeA, false, false), checkFunc{})
		reqs[i].Msg.Id = uint16(i + 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m, err := c.Resolve(context.Background(), reqs[i]); m != nil || err != nil {
				t.Errorf("waiter %d: %v, %v; want the wire answer", i, m, err)
			}
		}()
	}
	for next.n() == 0 {
		time.Sleep(time.Millisecond) // until the leader asks; the others join or hit
	}
	close(release)
	wg.Wait()
	for i, r := range reqs {
		m := new(dns.Msg)
		if !r.Wire.Served || m.Unpack(r.Wire.Buf) != nil || m.Id != uint16(i+1) || len(m.Answer) != 1 {
			t.Errorf("waiter %d: served %v, answer %v", i, r.Wire.Served, m)
		}
	}
	if next.n() != 1 {
		t.Errorf("%d queries to the next step, want 1", next.n())
	}
}
