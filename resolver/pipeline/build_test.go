package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
)

// TestBuildOrder: the order Build writes — guard, policy, cache, route —
// as a query sees it, on the chain and with the fast path hook: what the
// guard answers never reaches the policy, what the policy blocks never
// reaches the cache or the route, a list change blocks a cached name, a
// cached answer does not reach the route, and the policy checks the
// answer that comes back up (CNAME cloaking).
func TestBuildOrder(t *testing.T) {
	twoQuestions := func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }
	tests := []struct {
		name   string
		before []ask                      // asked first
		change []rule                     // then the lists become baseRules + change
		ask    ask                        // the query checked
		rcode  int                        // -1: no answer
		routed int64                      // queries that reached the route, in all
		sink   string                     // names the policy recorded, in order
		acl    pipeline.ACLConfig         // default: loopback only
		check  func(*testing.T, *dns.Msg) // more checks of the answer
	}{
		{name: "guard before policy: outside the ACL a blocked name is refused",
			ask: ask{name: "evil.example", qtype: dns.TypeA, from: "192.0.2.50"}, rcode: dns.RcodeRefused},
		{name: "guard before policy: ACL drop", acl: pipeline.ACLConfig{Action: "drop"},
			ask: ask{name: "evil.example", qtype: dns.TypeA, from: "192.0.2.50"}, rcode: -1},
		{name: "guard before policy: a malformed query for a blocked name",
			ask: ask{name: "evil.example", qtype: dns.TypeA, edit: twoQuestions}, rcode: dns.RcodeFormatError},
		{name: "policy before cache and route", ask: ask{name: "www.evil.example", qtype: dns.TypeA},
			rcode: dns.RcodeNameError, sink: "www.evil.example"},
		{name: "policy: the list's action", ask: ask{name: "nodata.example", qtype: dns.TypeA}, rcode: dns.RcodeSuccess, sink: "nodata.example",
			check: func(t *testing.T, m *dns.Msg) {
				if len(m.Answer) != 0 {
					t.Errorf("NODATA block has answers: %v", m.Answer)
				}
			}},
		{name: "policy: allow wins", ask: ask{name: "good.evil.example", qtype: dns.TypeA}, rcode: dns.RcodeSuccess, routed: 1},
		{name: "cache before route", before: []ask{{name: "www.example", qtype: dns.TypeA}},
			ask: ask{name: "www.example", qtype: dns.TypeA}, rcode: dns.RcodeSuccess, routed: 1},
		{name: "policy above the cache: a list change blocks a cached name", before: []ask{{name: "later.example", qtype: dns.TypeA}},
			change: []rule{{name: "later.example"}}, ask: ask{name: "later.example", qtype: dns.TypeA},
			rcode: dns.RcodeNameError, routed: 1, sink: "later.example"},
		{name: "policy checks the answer: CNAME cloaking", ask: ask{name: "alias.example", qtype: dns.TypeA},
			rcode: dns.RcodeNameError, routed: 1, sink: "cdn.tracker.example"},
		{name: "policy checks cached answers too", before: []ask{{name: "alias.example", qtype: dns.TypeA}},
			ask: ask{name: "alias.example", qtype: dns.TypeA}, rcode: dns.RcodeNameError, routed: 1, sink: "cdn.tracker.example,cdn.tracker.example"},
	}
	for _, tt := range tests {
		for _, fast := range []bool{false, true} {
			path := map[bool]string{false: "chain", true: "fast path"}[fast]
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				acl := tt.acl
				if len(acl.Allow) == 0 {
					acl.Allow = []string{"127.0.0.0/8"}
				}
				chain, fp := newStacks(t, acl)
				s := chain
				if fast {
					s = fp
				}
				for i, a := range tt.before {
					s.serve(t, a, uint16(100+i))
				}
				if tt.change != nil {
					chain.tables.Store(table(t, append(append([]rule(nil), baseRules...), tt.change...)...))
				}
				m := s.serve(t, tt.ask, 7)
				switch {
				case tt.rcode == -1 && m != nil:
					t.Fatalf("answered %v, want no answer", m)
				case tt.rcode >= 0 && m == nil:
					t.Fatal("no answer")
				case m != nil && (m.Rcode != tt.rcode || m.Id != 7 || !m.Response):
					t.Fatalf("answer %s id %d, want %s id 7", dns.RcodeToString[m.Rcode], m.Id, dns.RcodeToString[tt.rcode])
				}
				if n := chain.routed.Load(); n != tt.routed {
					t.Errorf("%d queries reached the route, want %d", n, tt.routed)
				}
				if got := s.sink.got(); got != tt.sink {
					t.Errorf("policy recorded %q, want %q", got, tt.sink)
				}
				blocked := float64(strings.Count(tt.sink, ",") + 1)
				if tt.sink == "" {
					blocked = 0
				}
				if n := promtest.Value(t, s.reg, "bulwark_blocked_total"); n != blocked {
					t.Errorf("bulwark_blocked_total = %v, want %v", n, blocked)
				}
				if tt.check != nil && m != nil {
					tt.check(t, m)
				}
			})
		}
	}
}

// TestGuardDecisions: what the guard answers itself, on the chain and with
// the fast path hook alike, and that nothing it answers reaches the policy
// or the route.
func TestGuardDecisions(t *testing.T) {
	opcode := func(op int) func(*dns.Msg) { return func(m *dns.Msg) { m.Opcode = op } }
	tests := []struct {
		name  string
		ask   ask
		rcode int
		check func(*testing.T, *dns.Msg)
	}{
		{"NOTIFY is not implemented", ask{name: "evil.example", qtype: dns.TypeSOA, edit: opcode(dns.OpcodeNotify)}, dns.RcodeNotImplemented, nil},
		{"UPDATE is not implemented", ask{name: "evil.example", qtype: dns.TypeSOA, edit: opcode(dns.OpcodeUpdate)}, dns.RcodeNotImplemented, nil},
		{"AXFR refused", ask{name: "evil.example", qtype: dns.TypeAXFR}, dns.RcodeRefused, nil},
		{"IXFR refused", ask{name: "example", qtype: dns.TypeIXFR}, dns.RcodeRefused, nil},
		{"class HS refused", ask{name: "evil.example", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassHESIOD }}, dns.RcodeRefused, nil},
		{"CHAOS without an identity refused", ask{name: "version.bind", qtype: dns.TypeTXT, edit: func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }}, dns.RcodeRefused, nil},
		{"meta-type OPT is FORMERR", ask{name: "evil.example", qtype: dns.TypeOPT}, dns.RcodeFormatError, nil},
		{"no question is FORMERR", ask{name: "evil.example", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Question = nil }}, dns.RcodeFormatError, nil},
		{"EDNS version 1 is BADVERS", ask{name: "evil.example", qtype: dns.TypeA, edit: func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().SetVersion(1)
		}}, dns.RcodeBadVers, func(t *testing.T, m *dns.Msg) {
			if opt := m.IsEdns0(); opt == nil || opt.Version() != 0 {
				t.Errorf("BADVERS without our OPT version 0: %v", opt)
			}
		}},
		{"ANY gets the RFC 8482 answer", ask{name: "evil.example", qtype: dns.TypeANY}, dns.RcodeSuccess, func(t *testing.T, m *dns.Msg) {
			if len(m.Answer) != 1 || m.Answer[0].(*dns.HINFO).Cpu != "RFC8482" {
				t.Errorf("ANY answered %v", m.Answer)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, fast := newStacks(t, pipeline.ACLConfig{Allow: []string{"127.0.0.0/8"}})
			for _, s := range []*stack{chain, fast} {
				m := s.serve(t, tt.ask, 9)
				if m == nil || m.Rcode != tt.rcode {
					t.Fatalf("answer %v, want %s", m, dns.RcodeToString[tt.rcode])
				}
				if tt.check != nil {
					tt.check(t, m)
				}
				if got := s.sink.got(); got != "" {
					t.Errorf("the policy saw it: %q", got)
				}
			}
			if n := chain.routed.Load(); n != 0 {
				t.Errorf("%d reached the route", n)
			}
		})
	}
}

// TestFastPathHookAnswersAsTheChain: for the queries the fast path hook
// answers itself — blocks of every action and cache hits — its answer is
// the chain's, byte for byte (lower-case names: the hook copies the
// client's letter case), and it did answer them (a hook that declines
// everything would pass a comparison alone).
func TestFastPathHookAnswersAsTheChain(t *testing.T) {
	edns := func(m *dns.Msg) { m.SetEdns0(1232, false) }
	tests := []struct {
		name   string
		ask    ask
		cached bool // a cache hit: the chain asks first to fill the cache
	}{
		{"block", ask{name: "evil.example", qtype: dns.TypeA}, false},
		{"block with EDNS", ask{name: "www.evil.example", qtype: dns.TypeAAAA, edit: edns}, false},
		{"block nodata", ask{name: "nodata.example", qtype: dns.TypeA, edit: edns}, false},
		{"block refused", ask{name: "refused.example", qtype: dns.TypeMX}, false},
		{"cache hit", ask{name: "www.example", qtype: dns.TypeA}, true},
		{"cache hit with EDNS", ask{name: "www.example", qtype: dns.TypeA, edit: edns}, true},
		{"cached NODATA", ask{name: "www.example", qtype: dns.TypeTXT, edit: edns}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, fast := newStacks(t, pipeline.ACLConfig{Allow: []string{"127.0.0.0/8"}})
			if tt.cached {
				chain.serve(t, tt.ask, 1)
			}
			pkt, client := tt.ask.packet(t, 42), tt.ask.client()
			want := chain.pl.ServeUDP(context.Background(), pkt, client, nil)
			got, handled := fast.pl.AnswerFast(pkt, client, nil)
			if !handled {
				t.Fatal("the fast path hook declined")
			}
			if string(got) != string(want) {
				t.Errorf("fast path answer differs from the chain's:\n got %x\nwant %x", got, want)
			}
			if chain.sink.got() != fast.sink.got() {
				t.Errorf("blocks recorded: chain %q, fast path %q", chain.sink.got(), fast.sink.got())
			}
		})
	}
}
