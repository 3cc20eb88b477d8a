package dnssec

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// fuzzNext answers the fuzzed message for the client's question and the
// signed test hierarchy for everything the validator fetches itself.
type fuzzNext struct {
	h   *hierarchy
	msg *dns.Msg
}

func (f *fuzzNext) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	if f.msg != nil && req.Question.Qtype == f.msg.Question[0].Qtype && dns.CanonicalName(req.Question.Name) == dns.CanonicalName(f.msg.Question[0].Name) {
		m := f.msg
		f.msg = nil
		return m, nil
	}
	return f.h.Resolve(ctx, req)
}

// FuzzValidate feeds the validator any reply (RRSIG, NSEC, NSEC3, CNAME,
// DNAME records as they come off the wire) to a question in the signed
// test hierarchy. It must never panic, and an answer it marks secure must
// hold a signature for every RRset it keeps (a DNAME's CNAME excepted).
func FuzzValidate(f *testing.F) {
	h := testHierarchy(f)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.secure.test.", dns.TypeA}, {"nope.secure.test.", dns.TypeA}, {"www.secure.test.", dns.TypeAAAA},
		{"x.wild.secure.test.", dns.TypeA}, {"x.wild.nsec3.test.", dns.TypeMX}, {"nope.nsec3.test.", dns.TypeA},
		{"www.dn.secure.test.", dns.TypeA}, {"out.secure.test.", dns.TypeA}, {"www.child.optout.test.", dns.TypeA},
		{"b.c.nsec3.test.", dns.TypeA}, {"nope.iter.test.", dns.TypeA},
	} {
		m, _ := h.Resolve(context.Background(), query(q.name, q.qtype, true, false))
		if w, err := m.Pack(); err == nil {
			f.Add(w)
		}
	}
	v, _ := newTestValidator(f, h, nil)
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := new(dns.Msg)
		if m.Unpack(wire) != nil || len(m.Question) != 1 {
			return
		}
		q := m.Question[0]
		if _, ok := dns.IsDomainName(q.Name); !ok {
			return
		}
		// A fresh validator state per input would be slow; the shared one
		// only caches what the genuine hierarchy said.
		v.next = &fuzzNext{h: h, msg: m}
		v.bogusC.Purge()
		resp, err := v.Resolve(context.Background(), query(q.Name, q.Qtype, true, false))
		if err != nil || resp == nil {
			return
		}
		if !resp.AuthenticatedData {
			return
		}
		for _, s := range rrsets(resp.Answer) {
			if len(s.rrs) > 0 && len(s.sigs) == 0 && s.rtype != dns.TypeCNAME {
				t.Fatalf("secure answer keeps unsigned %s %s\n%v", s.name, typeName(s.rtype), resp)
			}
		}
	})
}

// FuzzDenialProofs runs the NSEC/NSEC3 proof code on any records and
// name. Nothing may panic, and no record set may prove a name both exists
// without a type (NODATA) and does not exist at all (NXDOMAIN) when the
// records are NSECs of one consistent chain taken from a signed zone.
func FuzzDenialProofs(f *testing.F) {
	h := testHierarchy(f)
	for _, z := range []string{"secure.test.", "nsec3.test.", "optout.test."} {
		var rrs []dns.RR
		rrs = append(rrs, h.zones[z].chain...)
		m := &dns.Msg{Answer: rrs}
		m.SetQuestion(z, dns.TypeNSEC)
		if w, err := m.Pack(); err == nil {
			for _, n := range []string{"nope." + z, "www." + z, "x.wild." + z, "c." + z, "child." + z} {
				f.Add(w, n, uint16(dns.TypeA))
			}
		}
	}
	f.Fuzz(func(t *testing.T, wire []byte, name string, qtype uint16) {
		m, name, ok := dnstest.FuzzMessage(wire, name)
		if !ok {
			return
		}
		zone := dns.CanonicalName(m.Question[0].Name)
		d := newDenial(zone, m.Answer, 150)
		nx := d.NXDomain(name)
		nd := d.NoData(name, qtype)
		d.Wildcard(name, dns.CountLabel(name)-1)
		d.DSAbsent(name)
		if nx.sec == Secure && nd.sec == Secure && len(d.nsec) > 0 && genuineChain(h, zone, d.nsec) {
			t.Fatalf("%s both NXDOMAIN and NODATA for %s", name, typeName(qtype))
		}
	})
}

// genuineChain reports whether every NSEC is one the test zone really has.
func genuineChain(h *hierarchy, zone string, nsec []*dns.NSEC) bool {
	z := h.zones[zone]
	if z == nil {
		return false
	}
	for _, n := range nsec {
		found := false
		for _, rr := range z.chain {
			if rr.String() == n.String() {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// FuzzCanonicalOrder: the RFC 4034 order the NSEC proofs rely on is a
// total order: antisymmetric and consistent with equality of names.
func FuzzCanonicalOrder(f *testing.F) {
	f.Add("a.example.", "B.example.", "*.z.example.")
	f.Add(`\001.z.example.`, "yljkjljk.a.example.", "example.")
	f.Add(`a\.b.example.`, "a.b.example.", "zABC.a.EXAMPLE.")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		for _, n := range []string{a, b, c} {
			if _, ok := dns.IsDomainName(n); !ok {
				return
			}
		}
		ab, ba := canonicalCompare(a, b), canonicalCompare(b, a)
		if (ab < 0) != (ba > 0) || (ab == 0) != (ba == 0) {
			t.Fatalf("not antisymmetric: %q %q: %d %d", a, b, ab, ba)
		}
		if ab < 0 && canonicalCompare(b, c) < 0 && canonicalCompare(a, c) >= 0 {
			t.Fatalf("not transitive: %q < %q < %q", a, b, c)
		}
	})
}
