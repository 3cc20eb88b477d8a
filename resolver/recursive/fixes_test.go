package recursive

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// Servers the behaviour cases add to the standard world.
const (
	ipBrokenQmin = worldServer  // broken.test.: refuses minimised queries
	ipNoZones    = "127.0.0.21" // serves nothing: REFUSED to everything
)

// handReply builds a hand-made reply to q: AA and RA as given, the records
// in the answer and authority sections.
func handReply(t testing.TB, q *dns.Msg, aa, ra bool, answer, auth []string) *dns.Msg {
	m := new(dns.Msg).SetReply(q)
	m.Authoritative, m.RecursionAvailable = aa, ra
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(t, s))
	}
	for _, s := range auth {
		m.Ns = append(m.Ns, mustRR(t, s))
	}
	return m
}

func mustRR(t testing.TB, s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return rr
}

// when answers the query for name/qtype (any case) with fn, the rest from
// the zones.
func when(name string, qtype uint16, fn func(q *dns.Msg) *dns.Msg) dnstest.Responder {
	return func(q, zone *dns.Msg) *dns.Msg {
		if strings.EqualFold(q.Question[0].Name, name) && q.Question[0].Qtype == qtype {
			return fn(q)
		}
		return zone
	}
}

// TestRecursionBehaviours holds the behaviours an outside resolver test
// suite found wrong (issue 20, recursion fixes 2–7), each against the
// simulated hierarchy: the setup breaks the world in one way, the query
// shows the resolver copes as the RFCs ask.
func TestRecursionBehaviours(t *testing.T) {
	t.Parallel()
	upwardAA := func(t *testing.T) dnstest.Responder {
		return when("www.example.test.", dns.TypeA, func(q *dns.Msg) *dns.Msg {
			return handReply(t, q, true, false, nil, []string{"test. 86400 IN NS ns1.nic.test."})
		})
	}
	otherType := func(t *testing.T, ra bool) dnstest.Responder {
		return when("www.example.test.", dns.TypeMX, func(q *dns.Msg) *dns.Msg {
			return handReply(t, q, false, ra, []string{"www.example.test. 300 IN A 192.0.2.1"}, nil)
		})
	}
	// shop.test.'s server, ns.dns-host.example., is 127.0.0.7 in the
	// parent's glue; the child zone says 127.0.0.21, which serves nothing.
	childMoved := func(t *testing.T, h *dnstest.Hierarchy) {
		host := h.Server(ipHost)
		host.Remove("dns-host.example.", "ns.dns-host.example.", dns.TypeA)
		host.AddZone("dns-host.example.", "ns.dns-host.example. 3600 IN A "+ipNoZones)
	}
	shopCNAME := []string{"www.shop.test. 300 IN CNAME edge.cdn.example."}
	tests := []struct {
		name   string
		setup  func(t *testing.T, h *dnstest.Hierarchy)
		mod    func(*Config)
		qname  string
		qtype  uint16
		err    bool // SERVFAIL
		rcode  int
		answer []string
		check  func(t *testing.T, h *dnstest.Hierarchy)
	}{
		{
			name: "2. upward referral with AA from one server: lame, the other answers",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				h.Server(ipZone1).SetResponder(upwardAA(t))
			},
			qname: "www.example.test.", qtype: dns.TypeA,
			answer: []string{"www.example.test. 300 IN A 192.0.2.1"},
		},
		{
			name: "2. upward referral with AA from every server: SERVFAIL, not NODATA",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				h.Server(ipZone1).SetResponder(upwardAA(t))
				h.Server(ipZone2).SetResponder(upwardAA(t))
			},
			qname: "www.example.test.", qtype: dns.TypeA, err: true,
		},
		{
			name: "3. child-side address refuses: parent-side glue as last resort",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				childMoved(t, h)
			},
			qname: "www.shop.test.", qtype: dns.TypeCNAME, answer: shopCNAME,
			check: askedAt(ipNoZones, "www.shop.test.", dns.TypeCNAME),
		},
		{
			name: "3. child's lookup of the address fails: parent-side glue as last resort",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				h.Server(ipHost).SetResponder(when("ns.dns-host.example.", dns.TypeA, func(q *dns.Msg) *dns.Msg {
					return new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
				}))
			},
			mod:   func(c *Config) { c.IPv6 = false },
			qname: "www.shop.test.", qtype: dns.TypeCNAME, answer: shopCNAME,
		},
		{
			name: "4. only another type's record, AA and RA clear: NODATA",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				h.Server(ipZone1).SetResponder(otherType(t, false))
				h.Server(ipZone2).SetResponder(otherType(t, false))
			},
			qname: "www.example.test.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess,
		},
		{
			name: "4. only another type's record from a recursion-only server (RA set): lame",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				h.Server(ipZone1).SetResponder(otherType(t, true))
				h.Server(ipZone2).SetResponder(otherType(t, true))
			},
			qname: "www.example.test.", qtype: dns.TypeMX, err: true,
		},
		{
			name: "5. minimised query refused: the full name is asked before the server is lame",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				h.Server(ipTest).AddZone("test.",
					"broken.test. 86400 IN NS ns.broken.test.",
					"ns.broken.test. 86400 IN A "+ipBrokenQmin)
				b := h.Server(ipBrokenQmin)
				b.AddZone("broken.test.", "broken.test. 3600 IN NS ns.broken.test.",
					"www.a.broken.test. 300 IN A 192.0.2.34")
				b.SetResponder(func(q, zone *dns.Msg) *dns.Msg {
					if !strings.EqualFold(q.Question[0].Name, "www.a.broken.test.") {
						return new(dns.Msg).SetRcode(q, dns.RcodeRefused)
					}
					return zone
				})
			},
			qname: "www.a.broken.test.", qtype: dns.TypeA,
			answer: []string{"www.a.broken.test. 300 IN A 192.0.2.34"},
		},
		{
			name: "6. the same DNAME applied twice appears once",
			setup: func(t *testing.T, h *dnstest.Hierarchy) {
				for _, ip := range []string{ipZone1, ipZone2} {
					h.Server(ip).AddZone("example.test.",
						"a.new.example.test. 300 IN CNAME b.old.example.test.",
						"b.new.example.test. 300 IN A 192.0.2.9")
				}
			},
			qname: "a.old.example.test.", qtype: dns.TypeA,
			answer: []string{
				"old.example.test. 300 IN DNAME new.example.test.",
				"a.old.example.test. 300 IN CNAME a.new.example.test.",
				"a.new.example.test. 300 IN CNAME b.old.example.test.",
				"b.old.example.test. 300 IN CNAME b.new.example.test.",
				"b.new.example.test. 300 IN A 192.0.2.9",
			},
		},
		{
			name:  "7. harden_glue (default): out-of-bailiwick glue ignored, the host looked up",
			setup: plantOutOfBailiwickGlue,
			qname: "www.shop.test.", qtype: dns.TypeCNAME, answer: shopCNAME,
			check: askedAt(ipHost, "ns.dns-host.example.", dns.TypeA),
		},
		{
			name:  "7. harden_glue: false accepts out-of-bailiwick glue",
			setup: plantOutOfBailiwickGlue,
			mod:   func(c *Config) { c.HardenGlue = false },
			qname: "www.shop.test.", qtype: dns.TypeCNAME, answer: shopCNAME,
			check: func(t *testing.T, h *dnstest.Hierarchy) {
				for _, s := range h.Queries() {
					if s.Server == ipExample || s.Server == ipHost && s.Name != "www.shop.test." {
						t.Errorf("query %v: the glue should have been used as it came", s)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startWorld(t, ipBrokenQmin, ipNoZones)
			tt.setup(t, h)
			r, _ := newResolver(t, h, tt.mod)
			patient(r)
			m, err := resolve(t, r, tt.qname, tt.qtype)
			if tt.err {
				if err == nil {
					t.Fatalf("rcode %s answer %q; want SERVFAIL\n%q", dns.RcodeToString[m.Rcode], rrs(m.Answer), seen(h))
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%q", err, seen(h))
			}
			if got := rrs(m.Answer); m.Rcode != tt.rcode || !slices.Equal(got, tt.answer) {
				t.Errorf("rcode %s answer\n%q\nwant %s\n%q\nservers saw %q", dns.RcodeToString[m.Rcode], got,
					dns.RcodeToString[tt.rcode], tt.answer, seen(h))
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

// plantOutOfBailiwickGlue makes test. hand out glue for shop.test.'s
// server, which lives under example.: glue test. cannot speak for.
func plantOutOfBailiwickGlue(t *testing.T, h *dnstest.Hierarchy) {
	h.Server(ipTest).AddZone("test.", "ns.dns-host.example. 86400 IN A "+ipHost)
}

// askedAt checks that the server at ip was asked name/qtype.
func askedAt(ip, name string, qtype uint16) func(*testing.T, *dnstest.Hierarchy) {
	return func(t *testing.T, h *dnstest.Hierarchy) {
		if countAt(h, ip, name, qtype) == 0 {
			t.Errorf("%s was not asked %s %s:\n%q", ip, name, dns.Type(qtype), seen(h))
		}
	}
}
