package dnssec

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// This file signs small zones in-process and answers for them the way a
// recursive resolver hands answers to the validator: the whole chain, with
// signatures and the NSEC/NSEC3 proofs. Every signature is real; tests
// break them on purpose through tamper hooks.

// testNow is the validation time of the unit tests (override_date).
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type sigWindow struct{ inception, expiration time.Time }

var validWindow = sigWindow{testNow.Add(-24 * time.Hour), testNow.Add(30 * 24 * time.Hour)}

// tzone is one zone of the test hierarchy.
type tzone struct {
	origin   string
	data     map[string][]dns.RR // canonical owner -> records
	signed   bool
	keys     []*dns.DNSKEY // [0] signs DNSKEY (KSK), last signs the rest
	privs    []crypto.Signer
	nsec3    bool
	iter     uint16
	salt     string
	optOut   bool
	kskIndex int
	window   sigWindow
	chain    []dns.RR            // NSEC or NSEC3 records
	sigs     map[string][]dns.RR // owner/type -> RRSIGs
	children map[string]bool     // delegated names
}

type hierarchy struct {
	t     testing.TB
	zones map[string]*tzone
	// tamper edits an answer before the validator sees it.
	tamper  func(q dns.Question, m *dns.Msg)
	queries []dns.Question
}

func newHierarchy(t testing.TB) *hierarchy {
	return &hierarchy{t: t, zones: map[string]*tzone{}}
}

type zoneOpt func(testing.TB, *tzone)

func unsigned() zoneOpt { return func(_ testing.TB, z *tzone) { z.signed = false } }
func withNSEC3(iter uint16) zoneOpt {
	return func(_ testing.TB, z *tzone) { z.nsec3, z.iter, z.salt = true, iter, "AABB" }
}
func withOptOut() zoneOpt { return func(_ testing.TB, z *tzone) { z.optOut = true } }
func withWindow(w sigWindow) zoneOpt {
	return func(_ testing.TB, z *tzone) { z.window = w }
}

// withDNSKEYSigner picks which key signs the DNSKEY set.
func withDNSKEYSigner(i int) zoneOpt { return func(_ testing.TB, z *tzone) { z.kskIndex = i } }

// withKeys gives the zone its own key algorithms: the first signs the
// DNSKEY set, the last everything else (one entry: a combined key).
func withKeys(algs ...uint8) zoneOpt {
	return func(t testing.TB, z *tzone) {
		z.keys, z.privs = nil, nil
		for i, a := range algs {
			flags := uint16(dns.ZONE)
			if i < len(algs)-1 || len(algs) == 1 {
				flags |= dns.SEP
			}
			k, p := genKeyN(t, z.origin, a, flags, i)
			z.keys, z.privs = append(z.keys, k), append(z.privs, p)
		}
	}
}

var keyCache = map[string]struct {
	k *dns.DNSKEY
	p crypto.Signer
}{}

// genKey makes a key; RSA keys are slow to make, so one per algorithm and
// zone is reused across tests.
func genKey(t testing.TB, origin string, alg uint8, flags uint16) (*dns.DNSKEY, crypto.Signer) {
	return genKeyN(t, origin, alg, flags, 0)
}

func genKeyN(t testing.TB, origin string, alg uint8, flags uint16, n int) (*dns.DNSKEY, crypto.Signer) {
	id := fmt.Sprintf("%s/%d/%d/%d", origin, alg, flags, n)
	if c, ok := keyCache[id]; ok {
		k := *c.k
		return &k, c.p
	}
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: flags, Protocol: 3, Algorithm: alg}
	bits := 256
	switch alg {
	case dns.RSASHA256, dns.RSASHA512, dns.RSASHA1, dns.RSASHA1NSEC3SHA1:
		bits = 1024
	case dns.ECDSAP384SHA384:
		bits = 384
	}
	p, err := k.Generate(bits)
	if err != nil {
		t.Fatalf("generate %s key: %v", dns.AlgorithmToString[alg], err)
	}
	keyCache[id] = struct {
		k *dns.DNSKEY
		p crypto.Signer
	}{k, p.(crypto.Signer)}
	kc := *k
	return &kc, p.(crypto.Signer)
}

// addZone adds a zone with an SOA, NS and the given records.
func (h *hierarchy) addZone(origin string, records []string, opts ...zoneOpt) *tzone {
	h.t.Helper()
	origin = dns.CanonicalName(origin)
	z := &tzone{origin: origin, data: map[string][]dns.RR{}, signed: true, window: validWindow, children: map[string]bool{}}
	z.keys, z.privs = nil, nil
	k, p := genKey(h.t, origin, dns.ECDSAP256SHA256, dns.ZONE|dns.SEP)
	z.keys, z.privs = []*dns.DNSKEY{k}, []crypto.Signer{p}
	for _, o := range opts {
		o(h.t, z)
	}
	z.add(h.t, origin+" 3600 IN SOA "+below("ns", origin)+" "+below("admin", origin)+" 1 3600 600 86400 300")
	z.add(h.t, origin+" 3600 IN NS "+below("ns", origin))
	for _, r := range records {
		z.add(h.t, r)
	}
	h.zones[origin] = z
	return z
}

func (z *tzone) add(t testing.TB, text string) {
	rr, err := dns.NewRR(text)
	if err != nil {
		t.Fatalf("record %q: %v", text, err)
	}
	name := dns.CanonicalName(rr.Header().Name)
	rr.Header().Name = name
	z.data[name] = append(z.data[name], rr)
}

// delegate puts child's NS (and DS, when signed and withDS) in its parent.
func (h *hierarchy) delegate(parent, child string, dsMod func(*dns.DS)) {
	p, c := h.zones[dns.CanonicalName(parent)], h.zones[dns.CanonicalName(child)]
	p.add(h.t, c.origin+" 3600 IN NS "+below("ns", c.origin))
	p.children[c.origin] = true
	if !c.signed {
		return
	}
	for _, k := range c.keys {
		if k.Flags&dns.SEP == 0 {
			continue
		}
		ds := k.ToDS(dns.SHA256)
		ds.Hdr.Ttl = 3600
		if dsMod != nil {
			dsMod(ds)
		}
		p.data[c.origin] = append(p.data[c.origin], ds)
	}
}

// sign builds the NSEC/NSEC3 chain and signs every authoritative RRset.
func (h *hierarchy) sign() {
	for _, z := range h.zones {
		if !z.signed {
			continue
		}
		z.sigs = map[string][]dns.RR{}
		for _, k := range z.keys {
			z.data[z.origin] = append(z.data[z.origin], k)
		}
		z.buildChain()
		for owner, rrs := range z.data {
			if z.isGlue(owner) {
				continue
			}
			byType := map[uint16][]dns.RR{}
			for _, rr := range rrs {
				byType[rr.Header().Rrtype] = append(byType[rr.Header().Rrtype], rr)
			}
			for t, set := range byType {
				if z.children[owner] && t == dns.TypeNS {
					continue // the child's NS are not the parent's to sign
				}
				z.sigs[sigKey(owner, t)] = []dns.RR{z.signSet(h.t, set, t == dns.TypeDNSKEY)}
			}
		}
		for _, rr := range z.chain {
			z.sigs[sigKey(rr.Header().Name, rr.Header().Rrtype)] = []dns.RR{z.signSet(h.t, []dns.RR{rr}, false)}
		}
	}
}

func sigKey(owner string, t uint16) string { return owner + "/" + dns.TypeToString[t] }

func (z *tzone) signSet(t testing.TB, set []dns.RR, ksk bool) *dns.RRSIG {
	i := len(z.keys) - 1
	if ksk {
		i = z.kskIndex
	}
	k := z.keys[i]
	labels := dns.CountLabel(set[0].Header().Name)
	if isWildcardOwner(set[0].Header().Name) {
		labels--
	}
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: set[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: set[0].Header().Ttl},
		TypeCovered: set[0].Header().Rrtype, Algorithm: k.Algorithm, Labels: uint8(labels), OrigTtl: set[0].Header().Ttl,
		Expiration: uint32(z.window.expiration.Unix()), Inception: uint32(z.window.inception.Unix()),
		KeyTag: k.KeyTag(), SignerName: z.origin}
	if err := sig.Sign(z.privs[i], set); err != nil {
		t.Fatalf("sign %s: %v", set[0].Header().Name, err)
	}
	return sig
}

// isGlue reports whether owner is below a delegation of z (not the cut).
func (z *tzone) isGlue(owner string) bool {
	for c := range z.children {
		if owner != c && dns.IsSubDomain(c, owner) {
			return true
		}
	}
	return false
}

func (z *tzone) buildChain() {
	var names []string
	for n := range z.data {
		if !z.isGlue(n) {
			names = append(names, n)
		}
	}
	if z.nsec3 {
		z.buildNSEC3(names)
		return
	}
	sort.Slice(names, func(i, j int) bool { return canonicalCompare(names[i], names[j]) < 0 })
	for i, n := range names {
		next := names[(i+1)%len(names)]
		bm := z.bitmap(n)
		bm = append(bm, dns.TypeNSEC, dns.TypeRRSIG)
		slices.Sort(bm)
		z.chain = append(z.chain, &dns.NSEC{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
			NextDomain: next, TypeBitMap: bm})
	}
}

func (z *tzone) buildNSEC3(names []string) {
	all := map[string]bool{}
	for _, n := range names {
		if z.optOut && z.children[n] && !hasRR(z.data[n], dns.TypeDS) {
			continue // opt-out: insecure delegations are left out
		}
		for m := n; m != z.origin && dns.IsSubDomain(z.origin, m); m = parentName(m) {
			all[m] = true // the name and its empty non-terminals
		}
		all[z.origin] = true
	}
	type h struct{ hash, name string }
	var hs []h
	for n := range all {
		hs = append(hs, h{dns.HashName(n, dns.SHA1, z.iter, z.salt), n})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].hash < hs[j].hash })
	var flags uint8
	if z.optOut {
		flags = 1
	}
	for i, x := range hs {
		bm := z.bitmap(x.name)
		if len(bm) > 0 && !(z.children[x.name] && !hasRR(z.data[x.name], dns.TypeDS)) {
			bm = append(bm, dns.TypeRRSIG)
		}
		slices.Sort(bm)
		z.chain = append(z.chain, &dns.NSEC3{Hdr: dns.RR_Header{Name: strings.ToLower(x.hash) + "." + z.origin, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: 300},
			Hash: dns.SHA1, Flags: flags, Iterations: z.iter, SaltLength: uint8(len(z.salt) / 2), Salt: z.salt,
			HashLength: 20, NextDomain: hs[(i+1)%len(hs)].hash, TypeBitMap: bm})
	}
}

func (z *tzone) bitmap(n string) []uint16 {
	var bm []uint16
	for _, rr := range z.data[n] {
		t := rr.Header().Rrtype
		if !slices.Contains(bm, t) {
			bm = append(bm, t)
		}
	}
	return bm
}

func hasRR(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// Resolve answers like a recursive resolver: the zone that holds the name
// answers, CNAME and DNAME chains are followed across zones.
func (h *hierarchy) Resolve(_ context.Context, req *contract.Request) (*dns.Msg, error) {
	q := req.Question
	h.queries = append(h.queries, q)
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, RecursionAvailable: true}, Question: []dns.Question{q}}
	name := dns.CanonicalName(q.Name)
	for range 10 {
		z := h.zoneOf(name, q.Qtype)
		if z == nil {
			m.Rcode = dns.RcodeRefused
			break
		}
		next, done := z.answer(m, name, q.Qtype)
		if done {
			break
		}
		name = next
	}
	if h.tamper != nil {
		h.tamper(q, m)
	}
	return m, nil
}

func (h *hierarchy) zoneOf(name string, qtype uint16) *tzone {
	var best *tzone
	for o, z := range h.zones {
		if !dns.IsSubDomain(o, name) || (qtype == dns.TypeDS && o == name && o != ".") {
			continue
		}
		if best == nil || dns.CountLabel(o) > dns.CountLabel(best.origin) {
			best = z
		}
	}
	return best
}

func (z *tzone) withSigs(m []dns.RR, owner string, t uint16, rrs []dns.RR) []dns.RR {
	m = append(m, rrs...)
	return append(m, z.sigs[sigKey(owner, t)]...)
}

func (z *tzone) exists(name string) bool {
	if len(z.data[name]) > 0 {
		return true
	}
	for n := range z.data {
		if n != name && dns.IsSubDomain(name, n) {
			return true // empty non-terminal
		}
	}
	return false
}

// answer adds what z says about name/qtype to m; it returns the name the
// chain continues at, or done.
func (z *tzone) answer(m *dns.Msg, name string, qtype uint16) (string, bool) {
	if rrs := rrsOf(z.data[name], qtype); len(rrs) > 0 {
		m.Answer = z.withSigs(m.Answer, name, qtype, rrs)
		return "", true
	}
	if c := rrsOf(z.data[name], dns.TypeCNAME); len(c) > 0 {
		m.Answer = z.withSigs(m.Answer, name, dns.TypeCNAME, c)
		return dns.CanonicalName(c[0].(*dns.CNAME).Target), false
	}
	for a := parentName(name); dns.IsSubDomain(z.origin, a); a = parentName(a) {
		if d := rrsOf(z.data[a], dns.TypeDNAME); len(d) > 0 {
			m.Answer = z.withSigs(m.Answer, a, dns.TypeDNAME, d)
			target, _ := dnswire.SubstituteDNAME(name, d[0].(*dns.DNAME))
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300}, Target: target})
			return target, false
		}
		if a == z.origin || a == "." {
			break
		}
	}
	if z.exists(name) {
		z.negative(m, name, false, "")
		return "", true
	}
	ce := name
	for !z.exists(ce) && ce != z.origin {
		ce = parentName(ce)
	}
	wild := "*." + ce
	if wrrs := z.data[wild]; len(wrrs) > 0 {
		if rrs := rrsOf(wrrs, qtype); len(rrs) > 0 {
			for _, rr := range rrs {
				cp := dns.Copy(rr)
				cp.Header().Name = name
				m.Answer = append(m.Answer, cp)
			}
			for _, s := range z.sigs[sigKey(wild, qtype)] {
				cp := dns.Copy(s)
				cp.Header().Name = name
				m.Answer = append(m.Answer, cp)
			}
			z.proveAbsent(m, name, ce)
			return "", true
		}
		z.negative(m, name, false, wild)
		return "", true
	}
	m.Rcode = dns.RcodeNameError
	z.negative(m, name, true, "")
	return "", true
}

func rrsOf(rrs []dns.RR, t uint16) []dns.RR {
	return drop(rrs, func(rr dns.RR) bool { return rr.Header().Rrtype == t })
}

// negative adds the SOA and the denial records: for NODATA at name (or at
// the wildcard wild), or NXDOMAIN.
func (z *tzone) negative(m *dns.Msg, name string, nx bool, wild string) {
	soa := z.data[z.origin][0]
	m.Ns = z.withSigs(m.Ns, z.origin, dns.TypeSOA, []dns.RR{soa})
	if !z.signed {
		return
	}
	ce := name
	for !z.exists(ce) && ce != z.origin {
		ce = parentName(ce)
	}
	switch {
	case nx:
		z.proveAbsent(m, name, ce)
		z.addCovering(m, "*."+ce)
	case wild != "":
		z.proveAbsent(m, name, ce)
		z.addMatching(m, wild)
	default:
		if !z.addMatching(m, name) {
			if z.nsec3 {
				// No NSEC3 for the name (opt-out): the closest encloser proof
				// from the nearest ancestor that has one.
				d := newDenial(z.origin, z.chain, 1000)
				ce = parentName(name)
				for d.nsec3Matching(ce) == nil && ce != z.origin {
					ce = parentName(ce)
				}
				z.proveAbsent(m, name, ce)
			} else {
				z.addCovering(m, name) // empty non-terminal
			}
		}
	}
}

// proveAbsent adds what shows name does not exist below its closest
// encloser ce.
func (z *tzone) proveAbsent(m *dns.Msg, name, ce string) {
	if !z.nsec3 {
		z.addCovering(m, name)
		return
	}
	z.addMatching(m, ce)
	next := lastLabels(name, dns.CountLabel(ce)+1)
	z.addCovering(m, next)
}

func (z *tzone) addMatching(m *dns.Msg, name string) bool {
	for _, rr := range z.chain {
		match := false
		switch r := rr.(type) {
		case *dns.NSEC:
			match = r.Hdr.Name == name
		case *dns.NSEC3:
			match = r.Match(name)
		}
		if match {
			z.addChain(m, rr)
			return true
		}
	}
	return false
}

func (z *tzone) addCovering(m *dns.Msg, name string) {
	d := newDenial(z.origin, z.chain, 1000)
	var rr dns.RR
	if z.nsec3 {
		if r := d.nsec3Covering(name); r != nil {
			rr = r
		}
	} else if r := d.nsecCovering(name); r != nil {
		rr = r
	}
	if rr != nil {
		z.addChain(m, rr)
	}
}

func (z *tzone) addChain(m *dns.Msg, rr dns.RR) {
	for _, have := range m.Ns {
		if have == rr {
			return
		}
	}
	m.Ns = z.withSigs(m.Ns, rr.Header().Name, rr.Header().Rrtype, []dns.RR{rr})
}

// anchorFor returns the root's DS as a trust anchor file.
func (h *hierarchy) anchorFile(t testing.TB) string {
	root := h.zones["."]
	ds := root.keys[0].ToDS(dns.SHA256)
	f := t.TempDir() + "/anchor"
	if err := os.WriteFile(f, []byte(ds.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// query builds a client request as the listener would.
func query(name string, qtype uint16, do, cd bool) *contract.Request {
	return dnstest.Request(name, qtype, do, cd)
}

func writeFileErr(f, text string) error { return os.WriteFile(f, []byte(text+"\n"), 0o644) }

// below is label under origin.
func below(label, origin string) string {
	if origin == "." {
		return label + "."
	}
	return label + "." + origin
}
