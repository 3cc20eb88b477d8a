package recursive

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// FuzzClassify feeds arbitrary replies to the scrubber and checks its
// promises: nothing owned outside the zone is believed (the DNAME-
// synthesized CNAMEs excepted, which are built from believed data), a
// referral goes strictly down towards the name, and glue is for the
// referral's own name servers, within the zone.
func FuzzClassify(f *testing.F) {
	add := func(zone, qname string, rcode int, aa bool, answer, ns, extra []string) {
		m := msg(f, rcode, aa, answer, ns, extra)
		m.SetQuestion(qname, dns.TypeA)
		m.Response = true
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, zone)
	}
	add("example.test.", "www.example.test.", 0, true, []string{"www.example.test. 300 IN A 192.0.2.1"}, nil, nil)
	add("example.test.", "a.example.test.", 0, true,
		[]string{"a.example.test. 300 IN CNAME b.example.test.", "b.example.test. 300 IN CNAME www.bank.test.", "www.bank.test. 1 IN A 192.0.2.66"}, nil, nil)
	add("example.test.", "x.old.example.test.", 0, true,
		[]string{"old.example.test. 300 IN DNAME new.example.test.", "x.new.example.test. 300 IN A 192.0.2.2"}, nil, nil)
	add("test.", "www.example.test.", 0, false, nil,
		[]string{"example.test. 86400 IN NS ns1.example.test.", "example.test. 86400 IN NS ns.other."},
		[]string{"ns1.example.test. 86400 IN A 192.0.2.53", "ns.other. 86400 IN A 192.0.2.66"})
	add("example.test.", "nope.example.test.", dns.RcodeNameError, true, nil,
		[]string{"example.test. 300 IN SOA ns. h. 1 2 3 4 5"}, nil)
	add("example.test.", "www.example.test.", 0, false, nil, []string{"test. 300 IN NS ns.test."}, nil)

	f.Fuzz(func(t *testing.T, wire []byte, zone string) {
		m, zone, ok := dnstest.FuzzMessage(wire, zone)
		if !ok {
			return
		}
		qname := dns.CanonicalName(m.Question[0].Name)
		if !dns.IsSubDomain(zone, qname) {
			return
		}
		canonicalise(m)
		rep := classify(m, zone, qname, m.Question[0].Qtype)
		for _, rr := range rep.answer {
			if _, synth := rr.(*dns.CNAME); !synth && !dns.IsSubDomain(zone, rr.Header().Name) {
				t.Fatalf("believed %v from a server of %s", rr, zone)
			}
		}
		for _, rr := range rep.ns {
			if !dns.IsSubDomain(zone, rr.Header().Name) {
				t.Fatalf("believed authority %v from a server of %s", rr, zone)
			}
		}
		if rep.kind == kindReferral {
			if rep.cut == zone || !dns.IsSubDomain(zone, rep.cut) || !dns.IsSubDomain(rep.cut, qname) || len(rep.nsHosts) == 0 {
				t.Fatalf("referral to %q from %s for %s", rep.cut, zone, qname)
			}
		}
		for _, g := range rep.glue {
			if !dns.IsSubDomain(zone, g.host) || !containsString(rep.nsHosts, g.host) || !g.addr.IsValid() {
				t.Fatalf("glue %v for hosts %v from %s", g, rep.nsHosts, zone)
			}
		}
		if rep.kind == kindChain && rep.next == "" {
			t.Fatal("chain without a next name")
		}
	})
}

// FuzzParseHint: any string is either a clean error or a usable hint.
func FuzzParseHint(f *testing.F) {
	for _, s := range append([]string{"", "::1", "a b c", "x 1.2.3.4", "[::ffff:1.2.3.4]", "fe80::1%lo"}, ianaRootHints...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHint(s)
		if err != nil {
			return
		}
		if _, ok := dns.IsDomainName(h.name); !ok || !dns.IsFqdn(h.name) || !h.addr.IsValid() || h.addr.Zone() != "" ||
			!(h.addr.IsGlobalUnicast() || h.addr.IsLoopback()) || h.addr.Is4In6() {
			t.Fatalf("parseHint(%q) = %+v", s, h)
		}
	})
}
