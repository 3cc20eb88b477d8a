package dnssec

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/clock"
)

// testHierarchy is the signed tree the validator tests run against:
//
//	.             signed, the trust anchor
//	test.         signed TLD
//	secure.test.  NSEC: data, wildcard, CNAME chains, DNAME, empty non-terminal
//	nsec3.test.   NSEC3 (0 iterations): data, wildcard
//	optout.test.  NSEC3 opt-out with an unsigned child
//	insecure.test unsigned, no DS
//	...           one zone per way of being bogus
func testHierarchy(t testing.TB) *hierarchy {
	h := newHierarchy(t)
	h.addZone(".", nil)
	h.addZone("test.", nil)
	common := func(o string) []string {
		return []string{
			"www." + o + " 3600 IN A 192.0.2.1",
			"*.wild." + o + " 3600 IN A 192.0.2.9",
			"a.b.c." + o + " 3600 IN TXT \"deep\"",
			"cname." + o + " 3600 IN CNAME www." + o,
			"out." + o + " 3600 IN CNAME www.nsec3.test.",
			"toinsecure." + o + " 3600 IN CNAME www.insecure.test.",
			"dn." + o + " 3600 IN DNAME nsec3.test.",
		}
	}
	h.addZone("secure.test.", common("secure.test."))
	h.addZone("nsec3.test.", common("nsec3.test."), withNSEC3(0))
	h.addZone("optout.test.", []string{"www.optout.test. 3600 IN A 192.0.2.3"}, withNSEC3(0), withOptOut())
	h.addZone("child.optout.test.", []string{"www.child.optout.test. 3600 IN A 192.0.2.4"}, unsigned())
	h.addZone("insecure.test.", []string{"www.insecure.test. 3600 IN A 192.0.2.5"}, unsigned())
	h.addZone("bogus.test.", []string{"www.bogus.test. 3600 IN A 192.0.2.6"})
	h.addZone("expired.test.", []string{"www.expired.test. 3600 IN A 192.0.2.7"},
		withWindow(sigWindow{testNow.Add(-60 * 24 * time.Hour), testNow.Add(-time.Hour)}))
	h.addZone("future.test.", []string{"www.future.test. 3600 IN A 192.0.2.8"},
		withWindow(sigWindow{testNow.Add(time.Hour), testNow.Add(60 * 24 * time.Hour)}))
	h.addZone("nokey.test.", []string{"www.nokey.test. 3600 IN A 192.0.2.10"})
	h.addZone("badds.test.", []string{"www.badds.test. 3600 IN A 192.0.2.11"})
	h.addZone("unsupported.test.", []string{"www.unsupported.test. 3600 IN A 192.0.2.12"})
	h.addZone("iter.test.", []string{"www.iter.test. 3600 IN A 192.0.2.13"}, withNSEC3(200))
	h.addZone("rollover.test.", []string{"www.rollover.test. 3600 IN A 192.0.2.14"},
		withKeys(dns.ECDSAP256SHA256, dns.ECDSAP256SHA256, dns.ECDSAP256SHA256), withDNSKEYSigner(1))
	h.addZone("short.test.", []string{"www.short.test. 3600 IN A 192.0.2.15"},
		withWindow(sigWindow{testNow.Add(-time.Hour), testNow.Add(90 * time.Second)}))
	for _, alg := range []struct {
		zone string
		alg  uint8
	}{{"rsasha256", dns.RSASHA256}, {"rsasha512", dns.RSASHA512}, {"ecdsap384", dns.ECDSAP384SHA384},
		{"ed25519", dns.ED25519}, {"rsasha1", dns.RSASHA1}, {"kskzsk", dns.ED25519}} {
		algs := []uint8{alg.alg}
		if alg.zone == "kskzsk" {
			algs = []uint8{dns.ED25519, dns.ED25519}
		}
		h.addZone(alg.zone+".test.", []string{"www." + alg.zone + ".test. 3600 IN A 192.0.2.20"}, withKeys(algs...))
		h.delegate("test.", alg.zone+".test.", nil)
	}

	h.delegate(".", "test.", nil)
	for _, c := range []string{"secure", "nsec3", "optout", "insecure", "bogus", "expired", "future", "nokey", "iter", "rollover", "short"} {
		h.delegate("test.", c+".test.", nil)
	}
	h.delegate("optout.test.", "child.optout.test.", nil)
	h.delegate("test.", "badds.test.", func(ds *dns.DS) { ds.Digest = strings.Repeat("0", len(ds.Digest)) })
	h.delegate("test.", "unsupported.test.", func(ds *dns.DS) { ds.Algorithm = 16 })
	h.sign()
	return h
}

// tamperings applied by zone to make the bogus cases.
func standardTamper(q dns.Question, m *dns.Msg) {
	name := dns.CanonicalName(q.Name)
	switch {
	case strings.HasSuffix(name, "bogus.test.") && q.Qtype != dns.TypeDNSKEY && q.Qtype != dns.TypeDS:
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok {
				a.A = []byte{203, 0, 113, 66} // forged address, signature left as is
			}
		}
	case name == "nokey.test." && q.Qtype == dns.TypeDNSKEY:
		m.Answer = nil
	}
}

func newTestValidator(t testing.TB, h *hierarchy, mod func(*Config)) (*Validator, *prometheus.Registry) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.TrustAnchorFile = h.anchorFile(t)
	cfg.OverrideDate = testNow.Format(OverrideDateLayout)
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	v, err := New(cfg, h, nil, NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return v, reg
}

func edeOf(m *dns.Msg) (uint16, bool) {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.InfoCode, true
			}
		}
	}
	return 0, false
}

const noEDE = 0xffff

// TestValidate is the validator's contract: for each kind of answer, the
// rcode, the AD bit and the Extended DNS Error a client gets.
func TestValidate(t *testing.T) {
	h := testHierarchy(t)
	h.tamper = standardTamper
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		mod    func(*Config)
		rcode  int
		ad     bool
		ede    uint16
		answer int // records of the asked type in the answer (-1: don't check)
	}{
		{"secure answer", "www.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"secure NSEC NXDOMAIN", "nope.secure.test.", dns.TypeA, nil, dns.RcodeNameError, true, noEDE, 0},
		{"secure NSEC NODATA", "www.secure.test.", dns.TypeAAAA, nil, dns.RcodeSuccess, true, noEDE, 0},
		{"secure NSEC empty non-terminal", "b.c.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 0},
		{"secure NSEC wildcard answer", "x.wild.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"secure NSEC wildcard NODATA", "x.wild.secure.test.", dns.TypeMX, nil, dns.RcodeSuccess, true, noEDE, 0},
		{"secure NSEC3 answer", "www.nsec3.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"secure NSEC3 NXDOMAIN", "nope.nsec3.test.", dns.TypeA, nil, dns.RcodeNameError, true, noEDE, 0},
		{"secure NSEC3 NODATA", "www.nsec3.test.", dns.TypeAAAA, nil, dns.RcodeSuccess, true, noEDE, 0},
		{"secure NSEC3 empty non-terminal", "c.nsec3.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 0},
		{"secure NSEC3 wildcard answer", "x.wild.nsec3.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"secure NSEC3 wildcard NODATA", "x.wild.nsec3.test.", dns.TypeMX, nil, dns.RcodeSuccess, true, noEDE, 0},
		{"secure CNAME in zone", "cname.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"secure CNAME across zones", "out.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"secure DNAME", "www.dn.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"CNAME into insecure zone", "toinsecure.secure.test.", dns.TypeA, nil, dns.RcodeSuccess, false, noEDE, 1},
		{"insecure delegation (NSEC)", "www.insecure.test.", dns.TypeA, nil, dns.RcodeSuccess, false, noEDE, 1},
		{"insecure NXDOMAIN", "nope.insecure.test.", dns.TypeA, nil, dns.RcodeNameError, false, noEDE, 0},
		{"secure data in opt-out zone", "www.optout.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"insecure delegation by opt-out", "www.child.optout.test.", dns.TypeA, nil, dns.RcodeSuccess, false, noEDE, 1},
		{"opt-out NXDOMAIN is insecure", "nope.optout.test.", dns.TypeA, nil, dns.RcodeNameError, false, noEDE, 0},
		{"bogus signature", "www.bogus.test.", dns.TypeA, nil, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeDNSBogus, 0},
		{"expired signature", "www.expired.test.", dns.TypeA, nil, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeSignatureExpired, 0},
		{"signature not yet valid", "www.future.test.", dns.TypeA, nil, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeSignatureNotYetValid, 0},
		{"missing DNSKEY", "www.nokey.test.", dns.TypeA, nil, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeDNSKEYMissing, 0},
		{"DS not matching", "www.badds.test.", dns.TypeA, nil, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeDNSKEYMissing, 0},
		{"unsupported algorithm is insecure", "www.unsupported.test.", dns.TypeA, nil, dns.RcodeSuccess, false, dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm, 1},
		{"NSEC3 iterations over the limit", "nope.iter.test.", dns.TypeA, nil, dns.RcodeNameError, false, dns.ExtendedErrorCodeUnsupportedNSEC3IterValue, 0},
		{"NSEC3 iterations data still secure", "www.iter.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"KSK rollover, two DS", "www.rollover.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"RSASHA256", "www.rsasha256.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"RSASHA512", "www.rsasha512.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"ECDSAP384", "www.ecdsap384.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"ED25519", "www.ed25519.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"ED25519 KSK and ZSK", "www.kskzsk.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"RSASHA1 validated by default", "www.rsasha1.test.", dns.TypeA, nil, dns.RcodeSuccess, true, noEDE, 1},
		{"RSASHA1 insecure when SHA-1 refused", "www.rsasha1.test.", dns.TypeA,
			func(c *Config) { f := false; c.AllowSHA1 = &f }, dns.RcodeSuccess, false, dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm, 1},
		{"negative trust anchor", "www.bogus.test.", dns.TypeA,
			func(c *Config) { c.NegativeTrustAnchors = []string{"bogus.test"} }, dns.RcodeSuccess, false, noEDE, 1},
		{"no anchor for the name", "www.secure.test.", dns.TypeA,
			func(c *Config) {
				c.TrustAnchorFile = writeAnchor(t, "other. IN DS 1 13 2 "+strings.Repeat("AB", 32)+"\n. IN DS 1 13 2 "+strings.Repeat("AB", 32))
			},
			dns.RcodeServerFailure, false, dns.ExtendedErrorCodeDNSKEYMissing, 0},
		{"validated as of a date before the signatures", "www.secure.test.", dns.TypeA,
			func(c *Config) { c.OverrideDate = "20250101000000" }, dns.RcodeServerFailure, false, dns.ExtendedErrorCodeSignatureNotYetValid, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newTestValidator(t, h, tc.mod)
			resp, err := v.Resolve(context.Background(), query(tc.qname, tc.qtype, true, false))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tc.rcode || resp.AuthenticatedData != tc.ad {
				t.Fatalf("rcode %s AD %v, want %s AD %v\n%v", dns.RcodeToString[resp.Rcode], resp.AuthenticatedData,
					dns.RcodeToString[tc.rcode], tc.ad, resp)
			}
			code, has := edeOf(resp)
			if tc.ede == noEDE && has {
				t.Fatalf("unexpected EDE %d\n%v", code, resp)
			}
			if tc.ede != noEDE && (!has || code != tc.ede) {
				t.Fatalf("EDE %d (present %v), want %d\n%v", code, has, tc.ede, resp)
			}
			if tc.answer >= 0 {
				n := 0
				for _, rr := range resp.Answer {
					if rr.Header().Rrtype == tc.qtype {
						n++
					}
				}
				if n != tc.answer {
					t.Fatalf("%d %s records, want %d\n%v", n, dns.TypeToString[tc.qtype], tc.answer, resp)
				}
			}
		})
	}
}

func writeAnchor(t testing.TB, text string) string {
	f := t.TempDir() + "/anchor"
	if err := writeFileErr(f, text); err != nil {
		t.Fatal(err)
	}
	return f
}

// drop keeps the records of a section that keep accepts.
func drop(rrs []dns.RR, keep func(dns.RR) bool) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if keep(rr) {
			out = append(out, rr)
		}
	}
	return out
}

// retarget points every CNAME of an answer at target: a forgery that
// leaves the signatures as they were.
func retarget(target string) func(*dns.Msg) {
	return func(m *dns.Msg) {
		for _, rr := range m.Answer {
			if c, ok := rr.(*dns.CNAME); ok {
				c.Target = target
			}
		}
	}
}

func notType(types ...uint16) func(dns.RR) bool {
	return func(rr dns.RR) bool {
		for _, t := range types {
			if rr.Header().Rrtype == t {
				return false
			}
			if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == t {
				return false
			}
		}
		return true
	}
}

// TestValidateTampered: every way an on-path attacker or a broken server
// can spoil a signed answer ends in SERVFAIL with the matching EDE, never
// in an unauthenticated answer passed off as secure or insecure.
func TestValidateTampered(t *testing.T) {
	h := testHierarchy(t)
	only := func(qname string, qtype uint16, f func(m *dns.Msg)) func(dns.Question, *dns.Msg) {
		return func(q dns.Question, m *dns.Msg) {
			if dns.CanonicalName(q.Name) == qname && q.Qtype == qtype {
				f(m)
			}
		}
	}
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		tamper func(dns.Question, *dns.Msg)
		ede    uint16
	}{
		{"RRSIG stripped", "www.secure.test.", dns.TypeA,
			only("www.secure.test.", dns.TypeA, func(m *dns.Msg) { m.Answer = drop(m.Answer, notType(dns.TypeRRSIG)) }),
			dns.ExtendedErrorCodeRRSIGsMissing},
		{"NSEC stripped from NXDOMAIN", "nope.secure.test.", dns.TypeA,
			only("nope.secure.test.", dns.TypeA, func(m *dns.Msg) { m.Ns = drop(m.Ns, notType(dns.TypeNSEC)) }),
			dns.ExtendedErrorCodeNSECMissing},
		{"NSEC and RRSIGs stripped from NXDOMAIN", "nope.secure.test.", dns.TypeA,
			only("nope.secure.test.", dns.TypeA, func(m *dns.Msg) { m.Ns = drop(m.Ns, notType(dns.TypeNSEC, dns.TypeRRSIG, dns.TypeSOA)) }),
			dns.ExtendedErrorCodeNSECMissing},
		{"NSEC3 stripped from NODATA", "www.nsec3.test.", dns.TypeAAAA,
			only("www.nsec3.test.", dns.TypeAAAA, func(m *dns.Msg) { m.Ns = drop(m.Ns, notType(dns.TypeNSEC3)) }),
			dns.ExtendedErrorCodeNSECMissing},
		{"NXDOMAIN turned into NODATA", "nope.secure.test.", dns.TypeA,
			only("nope.secure.test.", dns.TypeA, func(m *dns.Msg) { m.Rcode = dns.RcodeSuccess }),
			dns.ExtendedErrorCodeNSECMissing},
		{"existing name denied (NODATA proof replayed as NXDOMAIN)", "www.secure.test.", dns.TypeAAAA,
			only("www.secure.test.", dns.TypeAAAA, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError }),
			dns.ExtendedErrorCodeNSECMissing},
		{"existing type denied", "www.secure.test.", dns.TypeA,
			func(q dns.Question, m *dns.Msg) {
				if dns.CanonicalName(q.Name) == "www.secure.test." && q.Qtype == dns.TypeA {
					// Replay the NODATA answer for AAAA, whose NSEC lists A.
					r, _ := h.Resolve(context.Background(), query("www.secure.test.", dns.TypeAAAA, true, false))
					m.Answer, m.Ns = nil, r.Ns
				}
			},
			dns.ExtendedErrorCodeDNSBogus},
		{"empty non-terminal denied as NXDOMAIN", "b.c.secure.test.", dns.TypeA,
			only("b.c.secure.test.", dns.TypeA, func(m *dns.Msg) { m.Rcode = dns.RcodeNameError }),
			dns.ExtendedErrorCodeDNSBogus},
		{"wildcard answer without its NSEC", "x.wild.secure.test.", dns.TypeA,
			only("x.wild.secure.test.", dns.TypeA, func(m *dns.Msg) { m.Ns = nil }),
			dns.ExtendedErrorCodeNSECMissing},
		{"wildcard answer without its NSEC3", "x.wild.nsec3.test.", dns.TypeA,
			only("x.wild.nsec3.test.", dns.TypeA, func(m *dns.Msg) { m.Ns = nil }),
			dns.ExtendedErrorCodeNSECMissing},
		{"DS denied without proof (downgrade to insecure)", "www.secure.test.", dns.TypeA,
			only("secure.test.", dns.TypeDS, func(m *dns.Msg) {
				m.Answer = nil
				m.Ns = drop(m.Ns, func(dns.RR) bool { return false })
			}),
			dns.ExtendedErrorCodeNSECMissing},
		{"DNSKEY signature stripped", "www.secure.test.", dns.TypeA,
			only("secure.test.", dns.TypeDNSKEY, func(m *dns.Msg) { m.Answer = drop(m.Answer, notType(dns.TypeRRSIG)) }),
			dns.ExtendedErrorCodeRRSIGsMissing},
		{"CNAME target forged", "cname.secure.test.", dns.TypeA,
			only("cname.secure.test.", dns.TypeA, retarget("evil.insecure.test.")),
			dns.ExtendedErrorCodeDNSBogus},
		{"synthesized CNAME not following the DNAME", "www.dn.secure.test.", dns.TypeA,
			only("www.dn.secure.test.", dns.TypeA, retarget("www.insecure.test.")),
			dns.ExtendedErrorCodeDNSBogus},
		{"unsigned answer for a name in a secure zone", "www.secure.test.", dns.TypeA,
			only("www.secure.test.", dns.TypeA, func(m *dns.Msg) {
				m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.secure.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{203, 0, 113, 1}}}
			}),
			dns.ExtendedErrorCodeRRSIGsMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.tamper = tc.tamper
			defer func() { h.tamper = nil }()
			v, _ := newTestValidator(t, h, nil)
			resp, err := v.Resolve(context.Background(), query(tc.qname, tc.qtype, true, false))
			if err != nil {
				t.Fatal(err)
			}
			code, has := edeOf(resp)
			if resp.Rcode != dns.RcodeServerFailure || !has || code != tc.ede {
				t.Fatalf("rcode %s EDE %d (present %v), want SERVFAIL EDE %d\n%v", dns.RcodeToString[resp.Rcode], code, has, tc.ede, resp)
			}
		})
	}
}

// TestCheckingDisabled: with CD the client gets the bogus data as it is,
// without AD, and the validator neither validates nor remembers it.
func TestCheckingDisabled(t *testing.T) {
	h := testHierarchy(t)
	h.tamper = standardTamper
	v, reg := newTestValidator(t, h, nil)
	resp, err := v.Resolve(context.Background(), query("www.bogus.test.", dns.TypeA, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeSuccess || resp.AuthenticatedData || len(resp.Answer) == 0 {
		t.Fatalf("CD query: want the unvalidated answer without AD, got\n%v", resp)
	}
	if got := counter(t, reg, "unchecked"); got != 1 {
		t.Fatalf("unchecked results %v, want 1", got)
	}
	// The same question without CD is bogus.
	resp, _ = v.Resolve(context.Background(), query("www.bogus.test.", dns.TypeA, true, false))
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("CD=0 after CD=1: want SERVFAIL, got\n%v", resp)
	}
}

// TestBogusRemembered: a bogus answer is answered from memory for
// bogus_ttl, then validated afresh.
func TestBogusRemembered(t *testing.T) {
	h := testHierarchy(t)
	h.tamper = standardTamper
	v, reg := newTestValidator(t, h, nil)
	for range 3 {
		resp, _ := v.Resolve(context.Background(), query("www.bogus.test.", dns.TypeA, true, false))
		if code, _ := edeOf(resp); resp.Rcode != dns.RcodeServerFailure || code != dns.ExtendedErrorCodeDNSBogus {
			t.Fatalf("want SERVFAIL EDE 6, got\n%v", resp)
		}
	}
	asked := 0
	for _, q := range h.queries {
		if q.Name == "www.bogus.test." && q.Qtype == dns.TypeA {
			asked++
		}
	}
	if asked != 1 {
		t.Fatalf("bogus answer fetched %d times, want 1 (then remembered)", asked)
	}
	if got := counter(t, reg, "bogus"); got != 3 {
		t.Fatalf("bogus results %v, want 3", got)
	}
}

// TestNoDOStripsDNSSEC: a client without DO gets the validated answer
// (AD set for the responder to clear or keep) without RRSIG/NSEC records.
func TestNoDOStripsDNSSEC(t *testing.T) {
	h := testHierarchy(t)
	v, _ := newTestValidator(t, h, nil)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.secure.test.", dns.TypeA}, {"nope.secure.test.", dns.TypeA}, {"x.wild.nsec3.test.", dns.TypeA}} {
		resp, _ := v.Resolve(context.Background(), query(q.name, q.qtype, false, false))
		if !resp.AuthenticatedData {
			t.Fatalf("%s: want AD (validated)\n%v", q.name, resp)
		}
		for _, rr := range append(append([]dns.RR{}, resp.Answer...), resp.Ns...) {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
				t.Fatalf("%s: DO=0 answer holds %v", q.name, rr)
			}
		}
	}
	// Asking for the DNSSEC type itself keeps it.
	resp, _ := v.Resolve(context.Background(), query("secure.test.", dns.TypeDNSKEY, false, false))
	if len(resp.Answer) == 0 || !resp.AuthenticatedData {
		t.Fatalf("DNSKEY query without DO: want the validated keys\n%v", resp)
	}
}

// TestTTLCappedBySignature: a validated answer does not outlive its
// signature (short.test's expire 90s after the validation time).
func TestTTLCappedBySignature(t *testing.T) {
	h := testHierarchy(t)
	v, _ := newTestValidator(t, h, nil)
	resp, _ := v.Resolve(context.Background(), query("www.short.test.", dns.TypeA, true, false))
	if !resp.AuthenticatedData {
		t.Fatalf("want a secure answer\n%v", resp)
	}
	for _, rr := range resp.Answer {
		if rr.Header().Ttl > 90 {
			t.Fatalf("TTL %d outlives the signature (90s left)\n%v", rr.Header().Ttl, resp)
		}
	}
}

// TestKeysCached: a second query in the same zone costs no DS or DNSKEY
// fetch.
func TestKeysCached(t *testing.T) {
	h := testHierarchy(t)
	v, _ := newTestValidator(t, h, nil)
	v.Resolve(context.Background(), query("www.secure.test.", dns.TypeA, true, false))
	n := len(h.queries)
	resp, _ := v.Resolve(context.Background(), query("cname.secure.test.", dns.TypeA, true, false))
	if !resp.AuthenticatedData {
		t.Fatalf("want secure\n%v", resp)
	}
	if extra := h.queries[n+1:]; len(extra) != 0 {
		t.Fatalf("second query in a validated zone also asked %v", extra)
	}
}

func counter(t testing.TB, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bulwark_dnssec_results_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestKeyFetchFailureRetried: a failed DNSKEY fetch (upstream SERVFAIL)
// fails the answer but is retried seconds later, while keys that are
// really wrong stay bogus for bogus_ttl; cache expiry follows the clock,
// not override_date.
func TestKeyFetchFailureRetried(t *testing.T) {
	h := testHierarchy(t)
	clk := clock.NewFake(testNow)
	cfg := DefaultConfig()
	cfg.TrustAnchorFile = h.anchorFile(t)
	cfg.OverrideDate = testNow.Format(OverrideDateLayout)
	v, err := New(cfg, h, clk, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := true
	h.tamper = func(q dns.Question, m *dns.Msg) {
		standardTamper(q, m)
		if broken && q.Name == "secure.test." && q.Qtype == dns.TypeDNSKEY {
			m.Rcode, m.Answer = dns.RcodeServerFailure, nil
		}
	}
	ask := func(name string) *dns.Msg {
		resp, err := v.Resolve(context.Background(), query(name, dns.TypeA, true, false))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := ask("www.secure.test."); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("DNSKEY fetch failing: want SERVFAIL\n%v", resp)
	}
	if resp := ask("www.nokey.test."); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("nokey: want SERVFAIL\n%v", resp)
	}
	broken = false
	clk.Advance(6 * time.Second)
	if resp := ask("www.secure.test."); !resp.AuthenticatedData {
		t.Fatalf("after the upstream recovered: want secure\n%v", resp)
	}
	n := len(h.queries)
	if resp := ask("www.nokey.test."); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("nokey: want SERVFAIL\n%v", resp)
	}
	if len(h.queries) != n {
		t.Fatalf("a bogus answer was fetched again within bogus_ttl: %v", h.queries[n:])
	}
	clk.Advance(DefaultBogusTTL)
	ask("www.nokey.test.")
	if len(h.queries) == n {
		t.Fatal("a bogus answer was not fetched again after bogus_ttl")
	}
}
