package recursive

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// msg builds a response from zone-file records; aa sets the AA bit.
func msg(t testing.TB, rcode int, aa bool, answer, ns, extra []string) *dns.Msg {
	t.Helper()
	parse := func(list []string) []dns.RR {
		var out []dns.RR
		for _, s := range list {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			out = append(out, rr)
		}
		return out
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Rcode: rcode, Authoritative: aa}}
	m.Answer, m.Ns, m.Extra = parse(answer), parse(ns), parse(extra)
	canonicalise(m)
	return m
}

func TestClassify(t *testing.T) {
	const (
		soa     = "example.test. 300 IN SOA ns1.example.test. h.example.test. 1 3600 600 86400 60"
		soaTest = "test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 60"
	)
	tests := []struct {
		name                 string
		zone, qname          string
		qtype                uint16
		rcode                int
		aa                   bool
		answer, auth, extra  []string
		kind                 kind
		wantAnswer, wantNS   []string
		next, cut            string
		wantHosts, wantGlue  []string
		wantLinks, wantRcode int
		skipRcode            bool
	}{
		{name: "answer", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.1"},
			kind:   kindAnswer, wantAnswer: []string{"www.example.test. 300 IN A 192.0.2.1"}},
		{name: "wildcard answer keeps its NSEC proof, nothing else of the authority", zone: "example.test.", qname: "x.wild.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"x.wild.example.test. 300 IN A 192.0.2.1"},
			auth: []string{"w.example.test. 300 IN NSEC z.example.test. A RRSIG NSEC", "example.test. 300 IN NS ns1.example.test.",
				"w.example.test. 300 IN RRSIG NSEC 13 3 300 20260701120000 20260531120000 1 example.test. AAAA",
				"example.test. 300 IN RRSIG NS 13 2 300 20260701120000 20260531120000 1 example.test. AAAA",
				"w.bank.test. 300 IN NSEC z.bank.test. A"},
			kind: kindAnswer, wantAnswer: []string{"x.wild.example.test. 300 IN A 192.0.2.1"},
			wantNS: []string{"w.example.test. 300 IN NSEC z.example.test. A RRSIG NSEC",
				"w.example.test. 300 IN RRSIG NSEC 13 3 300 20260701120000 20260531120000 1 example.test. AAAA"}},
		{name: "answer case folded", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"WwW.ExAmple.TEST. 300 IN A 192.0.2.1"},
			kind:   kindAnswer, wantAnswer: []string{"www.example.test. 300 IN A 192.0.2.1"}},
		{name: "unrelated answer records dropped", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.bank.test. 300 IN A 192.0.2.66", "www.example.test. 300 IN A 192.0.2.1", "www.example.test. 300 CH A 192.0.2.67"},
			extra:  []string{"www.bank.test. 300 IN A 192.0.2.66"},
			kind:   kindAnswer, wantAnswer: []string{"www.example.test. 300 IN A 192.0.2.1"}},
		{name: "chain leaves the zone: the rest is not believed", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.example.test. 300 IN CNAME www.bank.test.", "www.bank.test. 300 IN A 192.0.2.66"},
			kind:   kindChain, next: "www.bank.test.", wantLinks: 1,
			wantAnswer: []string{"www.example.test. 300 IN CNAME www.bank.test."}},
		{name: "chain in zone", zone: "example.test.", qname: "a.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"a.example.test. 300 IN CNAME b.example.test.", "b.example.test. 300 IN CNAME c.example.test.", "c.example.test. 300 IN A 192.0.2.3"},
			kind:   kindAnswer, wantLinks: 2,
			wantAnswer: []string{"a.example.test. 300 IN CNAME b.example.test.", "b.example.test. 300 IN CNAME c.example.test.", "c.example.test. 300 IN A 192.0.2.3"}},
		{name: "chain ends in NXDOMAIN in zone", zone: "example.test.", qname: "a.example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			answer: []string{"a.example.test. 300 IN CNAME gone.example.test."}, auth: []string{soa},
			kind: kindNXDomain, wantLinks: 1, wantAnswer: []string{"a.example.test. 300 IN CNAME gone.example.test."}, wantNS: []string{soa}},
		{name: "chain out of zone: NXDOMAIN not believed", zone: "example.test.", qname: "a.example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			answer: []string{"a.example.test. 300 IN CNAME gone.other.test."}, auth: []string{soa},
			kind: kindChain, next: "gone.other.test.", wantLinks: 1, wantAnswer: []string{"a.example.test. 300 IN CNAME gone.other.test."}},
		{name: "CNAME loop", zone: "example.test.", qname: "a.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"a.example.test. 300 IN CNAME b.example.test.", "b.example.test. 300 IN CNAME a.example.test."},
			kind:   kindChain, next: "a.example.test.", wantLinks: 2,
			wantAnswer: []string{"a.example.test. 300 IN CNAME b.example.test.", "b.example.test. 300 IN CNAME a.example.test."}},
		{name: "DNAME: our CNAME, not the server's", zone: "example.test.", qname: "x.old.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"old.example.test. 300 IN DNAME new.example.test.", "x.old.example.test. 300 IN CNAME www.bank.test.", "x.new.example.test. 300 IN A 192.0.2.2"},
			kind:   kindAnswer, wantLinks: 1,
			wantAnswer: []string{"old.example.test. 300 IN DNAME new.example.test.", "x.old.example.test. 300 IN CNAME x.new.example.test.", "x.new.example.test. 300 IN A 192.0.2.2"}},
		{name: "DNAME out of zone ignored", zone: "example.test.", qname: "x.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"test. 300 IN DNAME bank.test.", "x.example.test. 300 IN A 192.0.2.5"},
			kind:   kindAnswer, wantAnswer: []string{"x.example.test. 300 IN A 192.0.2.5"}},
		{name: "CNAME query under DNAME", zone: "example.test.", qname: "x.old.example.test.", qtype: dns.TypeCNAME, aa: true,
			answer: []string{"old.example.test. 300 IN DNAME new.example.test."},
			kind:   kindAnswer, wantLinks: 1,
			wantAnswer: []string{"old.example.test. 300 IN DNAME new.example.test.", "x.old.example.test. 300 IN CNAME x.new.example.test."}},
		{name: "DNAME overflow", zone: "example.test.", qname: "a234567890123456789012345678901234567890123456789012345678901.b234567890123456789012345678901234567890123456789012345678901.c234567890123456789012345678901234567890123456789012345678901.old.example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeYXDomain,
			answer: []string{"old.example.test. 300 IN DNAME d234567890123456789012345678901234567890123456789012345678901.e234567890123456789012345678901234567890123456789012345678901.test."},
			kind:   kindAnswer, wantRcode: dns.RcodeYXDomain, wantLinks: 0,
			wantAnswer: []string{"old.example.test. 300 IN DNAME d234567890123456789012345678901234567890123456789012345678901.e234567890123456789012345678901234567890123456789012345678901.test."}},
		{name: "answer with signatures", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.1", "www.example.test. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 1 example.test. AAAA", "www.example.test. 300 IN RRSIG AAAA 13 3 300 20300101000000 20200101000000 1 example.test. AAAA"},
			kind:   kindAnswer, wantAnswer: []string{"www.example.test. 300 IN A 192.0.2.1", "www.example.test. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 1 example.test. AAAA"}},

		{name: "referral, glue in and out of bailiwick", zone: "test.", qname: "www.example.test.", qtype: dns.TypeA,
			auth: []string{"example.test. 86400 IN NS ns1.example.test.", "example.test. 3600 IN NS ns.dns.example.",
				"example.test. 86400 IN DS 1 13 2 00FF"},
			extra: []string{"ns1.example.test. 86400 IN A 192.0.2.53", "ns1.example.test. 86400 IN AAAA 2001:db8::53",
				"ns.dns.example. 86400 IN A 192.0.2.66", "www.example.test. 86400 IN A 192.0.2.66", "other.test. 86400 IN A 192.0.2.66"},
			kind: kindReferral, cut: "example.test.", wantHosts: []string{"ns1.example.test.", "ns.dns.example."},
			wantGlue: []string{"ns1.example.test.=192.0.2.53", "ns1.example.test.=2001:db8::53"}},
		{name: "referral past the minimised name is not one", zone: "test.", qname: "example.test.", qtype: dns.TypeA,
			auth: []string{"www.example.test. 86400 IN NS ns1.example.test."},
			kind: kindLame},
		{name: "referral from the root, any glue is in bailiwick", zone: ".", qname: "test.", qtype: dns.TypeA,
			auth:  []string{"test. 86400 IN NS a.nic.test.", "test. 86400 IN NS b.nic.example."},
			extra: []string{"a.nic.test. 86400 IN A 192.0.2.1", "b.nic.example. 86400 IN A 192.0.2.2"},
			kind:  kindReferral, cut: "test.", wantHosts: []string{"a.nic.test.", "b.nic.example."},
			wantGlue: []string{"a.nic.test.=192.0.2.1", "b.nic.example.=192.0.2.2"}},
		{name: "deepest cut wins", zone: "test.", qname: "www.a.example.test.", qtype: dns.TypeA,
			auth: []string{"example.test. 86400 IN NS ns.example.test.", "a.example.test. 86400 IN NS ns.a.example.test."},
			kind: kindReferral, cut: "a.example.test.", wantHosts: []string{"ns.a.example.test."}},
		{name: "upward referral is lame", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA,
			auth: []string{"test. 86400 IN NS ns.test."}, extra: []string{"ns.test. 86400 IN A 192.0.2.66"},
			kind: kindLame},
		{name: "upward referral with AA set is still lame", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			auth: []string{"test. 86400 IN NS ns.test."}, kind: kindLame},
		{name: "only another type's record, AA and RA clear: NODATA", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeMX,
			answer: []string{"www.example.test. 300 IN A 192.0.2.1"}, kind: kindNoData},
		{name: "another type's record for another name: lame", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeMX,
			answer: []string{"ftp.example.test. 300 IN A 192.0.2.1"}, kind: kindLame},
		{name: "referral to the zone itself is lame", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA,
			auth: []string{"example.test. 86400 IN NS ns1.example.test."},
			kind: kindLame},
		{name: "sideways referral is lame", zone: "test.", qname: "www.example.test.", qtype: dns.TypeA,
			auth: []string{"other.test. 86400 IN NS ns.other.test."},
			kind: kindLame},
		{name: "referral without NS hosts", zone: "test.", qname: "www.example.test.", qtype: dns.TypeA,
			auth: []string{"example.test. 86400 IN NS ."},
			kind: kindLame},
		{name: "authoritative NS in authority is NODATA", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			auth: []string{"example.test. 86400 IN NS ns1.example.test."},
			kind: kindNoData},
		{name: "empty, not authoritative", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeA,
			kind: kindLame},
		{name: "NODATA", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeMX, aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.1"}, auth: []string{soa, "example.test. 300 IN NS ns1.example.test."},
			kind: kindNoData, wantNS: []string{soa}},
		{name: "NODATA with a foreign SOA", zone: "example.test.", qname: "www.example.test.", qtype: dns.TypeMX, aa: true,
			auth: []string{"bank.test. 300 IN SOA ns.bank.test. h.bank.test. 1 3600 600 86400 60"},
			kind: kindNoData},
		{name: "NXDOMAIN", zone: "example.test.", qname: "nope.example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			auth: []string{soa, "nope.example.test. 300 IN NSEC zz.example.test. A", "bank.test. 300 IN SOA ns.bank.test. h.bank.test. 1 3600 600 86400 60"},
			kind: kindNXDomain, wantNS: []string{soa, "nope.example.test. 300 IN NSEC zz.example.test. A"}},
		{name: "NXDOMAIN from the TLD", zone: "test.", qname: "nope.example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			auth: []string{soaTest}, kind: kindNXDomain, wantNS: []string{soaTest}},
		{name: "SOA below the name is not the zone's", zone: "test.", qname: "example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeNameError,
			auth: []string{"www.example.test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 60"}, kind: kindNXDomain},
		{name: "priming answer", zone: ".", qname: ".", qtype: dns.TypeNS, aa: true,
			answer: []string{". 518400 IN NS a.root-servers.net.", ". 518400 IN NS b.root-servers.net."},
			extra:  []string{"a.root-servers.net. 518400 IN A 198.41.0.4", "b.root-servers.net. 518400 IN AAAA 2801:1b8:10::b", "evil.test. 1 IN A 192.0.2.66"},
			kind:   kindAnswer, wantHosts: []string{"a.root-servers.net.", "b.root-servers.net."},
			wantGlue:   []string{"a.root-servers.net.=198.41.0.4", "b.root-servers.net.=2801:1b8:10::b"},
			wantAnswer: []string{". 518400 IN NS a.root-servers.net.", ". 518400 IN NS b.root-servers.net."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg(t, tt.rcode, tt.aa, tt.answer, tt.auth, tt.extra)
			rep := classify(m, tt.zone, tt.qname, tt.qtype)
			if rep.kind != tt.kind {
				t.Errorf("kind %d (%s), want %d", rep.kind, rep.why, tt.kind)
			}
			if got := rrs(rep.answer); !slices.Equal(got, tt.wantAnswer) {
				t.Errorf("answer\n%q\nwant\n%q", got, tt.wantAnswer)
			}
			if got := rrs(rep.ns); !slices.Equal(got, tt.wantNS) {
				t.Errorf("ns %q, want %q", got, tt.wantNS)
			}
			if rep.next != tt.next || rep.cut != tt.cut || rep.links != tt.wantLinks {
				t.Errorf("next %q cut %q links %d, want %q %q %d", rep.next, rep.cut, rep.links, tt.next, tt.cut, tt.wantLinks)
			}
			if tt.wantHosts != nil && !slices.Equal(rep.nsHosts, tt.wantHosts) {
				t.Errorf("hosts %q, want %q", rep.nsHosts, tt.wantHosts)
			}
			var glue []string
			for _, g := range rep.glue {
				glue = append(glue, g.host+"="+g.addr.String())
			}
			if !slices.Equal(glue, tt.wantGlue) {
				t.Errorf("glue %q, want %q", glue, tt.wantGlue)
			}
			if tt.wantRcode != 0 && rep.rcode != tt.wantRcode {
				t.Errorf("rcode %d, want %d", rep.rcode, tt.wantRcode)
			}
		})
	}
}

func TestReplyTTL(t *testing.T) {
	pos := classify(msg(t, 0, true, []string{"a.example.test. 300 IN CNAME b.example.test.", "b.example.test. 60 IN A 192.0.2.1"}, nil, nil),
		"example.test.", "a.example.test.", dns.TypeA)
	if got := pos.ttl(); got != 60 {
		t.Errorf("positive ttl %d, want 60", got)
	}
	neg := classify(msg(t, 0, true, nil, []string{"example.test. 300 IN SOA ns. h. 1 3600 600 86400 30"}, nil),
		"example.test.", "a.example.test.", dns.TypeA)
	if got := neg.ttl(); got != 30 {
		t.Errorf("negative ttl %d, want 30 (SOA minimum)", got)
	}
	if got := (&reply{}).ttl(); got != 0 {
		t.Errorf("empty ttl %d", got)
	}
}

// TestClassifyRootDNAME: a DNAME owned by the root (any server for the
// root zone may send one) is applied without indexing past the name's
// labels; it used to panic.
func TestClassifyRootDNAME(t *testing.T) {
	resp := msg(t, dns.RcodeSuccess, true, []string{". 300 IN DNAME example.net."}, nil, nil)
	rep := classify(resp, ".", "www.example.", dns.TypeA)
	if rep.kind == kindAnswer && rep.rcode == dns.RcodeSuccess {
		t.Fatalf("a root DNAME answered the question: %+v", rep)
	}
}
