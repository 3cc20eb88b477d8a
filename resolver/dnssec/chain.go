package dnssec

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// zone is what the validator knows of one zone (or of a name that is not
// a zone cut): its validated keys when secure, why not otherwise.
type zone struct {
	name    string
	v       verdict
	keys    []*dns.DNSKEY // usable keys of a secure zone
	notCut  bool          // name is inside its parent's zone, not a zone
	expires time.Time
}

// Bounds on the TTLs of what the key cache holds.
const (
	maxKeyTTL = 24 * time.Hour
	minKeyTTL = 5 * time.Second
	// fetchTimeout bounds one DS or DNSKEY fetch, which runs detached from
	// the client that caused it (others may wait for the same fetch).
	fetchTimeout = 10 * time.Second
)

// zoneFor returns the deepest zone at or above name, walking down from the
// closest trust anchor: a DS set signed by the secure parent leads to the
// child's keys, a proved absence of DS ends the chain (insecure), a proved
// absence of a cut goes on with the parent's keys.
func (v *Validator) zoneFor(ctx context.Context, name string) *zone {
	if nta := v.negativeAnchor(name); nta != "" {
		return &zone{name: nta, v: insecure("negative trust anchor " + nta)}
	}
	a := v.closestAnchor(name)
	if a == nil {
		return &zone{name: ".", v: insecure("no trust anchor above " + name)}
	}
	z := v.shared(ctx, "anchor/"+a.zone, func(ctx context.Context) *zone { return v.keysFor(ctx, a.zone, a.ds, maxKeyTTL) })
	if z.v.sec != Secure {
		return z
	}
	for _, n := range ancestorsBelow(a.zone, name) {
		if e, ok := v.keys.Get(n); ok && v.clk.Now().Before(e.expires) {
			if e.notCut {
				continue
			}
			z = e
			if z.v.sec != Secure {
				return z
			}
			continue
		}
		next := v.descend(ctx, n, z)
		if next.notCut {
			continue
		}
		z = next
		if z.v.sec != Secure {
			return z
		}
	}
	return z
}

// descend learns what name is below the secure zone parent: a secure or
// insecure child zone, a bogus one, or no zone cut at all. Concurrent
// validations needing the same name share one fetch.
func (v *Validator) descend(ctx context.Context, name string, parent *zone) *zone {
	return v.shared(ctx, name, func(ctx context.Context) *zone {
		ds, res, ttl := v.fetchDS(ctx, name, parent)
		switch res.kind {
		case dsFound:
			return v.keysFor(ctx, name, ds, ttl)
		case dsNoCut:
			e := &zone{name: name, notCut: true}
			v.remember(e, ttl)
			return e
		}
		e := &zone{name: name, v: res.v}
		v.remember(e, ttl)
		return e
	})
}

// shared runs fn once for concurrent callers asking about the same name,
// detached from any one client's cancellation.
func (v *Validator) shared(ctx context.Context, name string, fn func(context.Context) *zone) *zone {
	ch := v.flights.DoChan(name, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		return fn(fctx), nil
	})
	select {
	case <-ctx.Done():
		return &zone{name: name, v: bogus(dns.ExtendedErrorCodeDNSBogus, "validating %s: %v", name, context.Cause(ctx))}
	case r := <-ch:
		return r.Val.(*zone)
	}
}

// remember caches e for ttl (capped), or for bogus_ttl when bogus or ttl
// is 0.
func (v *Validator) remember(e *zone, ttl time.Duration) {
	switch {
	case e.v.transient:
		ttl = minKeyTTL
	case e.v.sec == Bogus || ttl <= 0:
		ttl = v.cfg.BogusTTL
	}
	ttl = min(max(ttl, minKeyTTL), maxKeyTTL)
	e.expires = v.clk.Now().Add(ttl) // cache time is real time, even with override_date
	v.keys.Add(e.name, e)
}

func (v *Validator) closestAnchor(name string) *anchor {
	for n := name; ; n = parentName(n) {
		if a := v.anchors[n]; a != nil {
			return a
		}
		if n == "." {
			return nil
		}
	}
}

func (v *Validator) negativeAnchor(name string) string {
	for _, n := range v.ntas {
		if isAncestorOrSelf(n, name) {
			return n
		}
	}
	return ""
}

// fetchDS asks for name's DS set below the secure zone parent and judges
// the answer with parent's keys.
func (v *Validator) fetchDS(ctx context.Context, name string, parent *zone) ([]*dns.DS, dsResult, time.Duration) {
	resp, err := v.fetch(ctx, name, dns.TypeDS)
	if err != nil {
		return nil, dsResult{kind: dsBogus, v: failed(dns.ExtendedErrorCodeDNSBogus, "fetching DS for %s: %v", name, err)}, 0
	}
	now := v.now()
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, dsResult{kind: dsBogus, v: failed(dns.ExtendedErrorCodeDNSBogus, "DS query for %s answered %s", name, dns.RcodeToString[resp.Rcode])}, 0
	}
	for _, s := range rrsets(resp.Answer) {
		if s.name != name {
			continue
		}
		switch s.rtype {
		case dns.TypeDS:
			c := v.verifySet(s, parent.name, parent.keys, now)
			if c.v.sec != Secure {
				if c.v.sec == Insecure {
					return nil, dsResult{kind: dsInsecure, v: c.v}, 0
				}
				return nil, dsResult{kind: dsBogus, v: c.v}, 0
			}
			ttl := capTTL(s, c, now)
			var ds []*dns.DS
			for _, rr := range s.rrs {
				ds = append(ds, rr.(*dns.DS))
			}
			return ds, dsResult{kind: dsFound}, time.Duration(ttl) * time.Second
		case dns.TypeCNAME:
			// An alias is never a zone cut; a forged one can only make the
			// parent's keys answer for what follows, which then fails.
			return nil, dsResult{kind: dsNoCut}, 0
		}
	}
	d, ttl, vv := v.validDenial(resp.Ns, parent, now)
	if vv.sec != Secure {
		if vv.sec == Insecure {
			return nil, dsResult{kind: dsInsecure, v: vv}, 0
		}
		return nil, dsResult{kind: dsBogus, v: vv}, 0
	}
	if d.empty() {
		return nil, dsResult{kind: dsBogus, v: nsecMissing("no signed NSEC or NSEC3 in the answer without DS for %s", name)}, 0
	}
	return nil, d.DSAbsent(name), ttl
}

// validDenial verifies the SOA, NSEC and NSEC3 RRsets of a negative
// answer's authority section with z's keys and returns the denial made of
// them and the smallest TTL.
func (v *Validator) validDenial(ns []dns.RR, z *zone, now time.Time) (*denial, time.Duration, verdict) {
	var proof []dns.RR
	ttl := uint32(maxKeyTTL / time.Second)
	for _, s := range rrsets(ns) {
		switch s.rtype {
		case dns.TypeNSEC, dns.TypeNSEC3, dns.TypeSOA:
		default:
			continue
		}
		if !isAncestorOrSelf(z.name, s.name) {
			continue
		}
		c := v.verifySet(s, z.name, z.keys, now)
		if c.v.sec != Secure {
			return nil, 0, c.v
		}
		ttl = min(ttl, capTTL(s, c, now))
		if s.rtype != dns.TypeSOA {
			proof = append(proof, s.rrs...)
		}
	}
	return newDenial(z.name, proof, v.cfg.NSEC3MaxIterations), time.Duration(ttl) * time.Second, secure
}

// keysFor returns the keys of zone name, authenticated by its DS set ds
// (or trust anchor), fetching and caching them.
func (v *Validator) keysFor(ctx context.Context, name string, ds []*dns.DS, dsTTL time.Duration) *zone {
	if e, ok := v.keys.Get(name); ok && !e.notCut && v.clk.Now().Before(e.expires) {
		return e
	}
	z, ttl := v.fetchKeys(ctx, name, ds)
	if z.v.sec == Secure {
		ttl = min(ttl, dsTTL)
	}
	v.remember(z, ttl)
	return z
}

func (v *Validator) fetchKeys(ctx context.Context, name string, dsAll []*dns.DS) (*zone, time.Duration) {
	ds, why := v.usableDS(dsAll)
	if len(ds) == 0 {
		return &zone{name: name, v: why}, 0
	}
	resp, err := v.fetch(ctx, name, dns.TypeDNSKEY)
	if err != nil {
		return &zone{name: name, v: failed(dns.ExtendedErrorCodeDNSKEYMissing, "fetching DNSKEY for %s: %v", name, err)}, 0
	}
	var set *rrset
	for _, s := range rrsets(resp.Answer) {
		if s.name == name && s.rtype == dns.TypeDNSKEY {
			set = s
		}
	}
	if set == nil && resp.Rcode == dns.RcodeServerFailure {
		return &zone{name: name, v: failed(dns.ExtendedErrorCodeDNSKEYMissing, "DNSKEY query for %s answered SERVFAIL", name)}, 0
	}
	if set == nil || len(set.rrs) == 0 {
		return &zone{name: name, v: bogus(dns.ExtendedErrorCodeDNSKEYMissing, "no DNSKEY for %s (answered %s)", name, dns.RcodeToString[resp.Rcode])}, 0
	}
	var all, matched []*dns.DNSKEY
	for _, rr := range set.rrs {
		k := rr.(*dns.DNSKEY)
		if k.Protocol != 3 || k.Flags&dns.ZONE == 0 {
			continue
		}
		all = append(all, k)
		for _, d := range ds {
			if d.KeyTag == k.KeyTag() && d.Algorithm == k.Algorithm {
				if kd := k.ToDS(d.DigestType); kd != nil && strings.EqualFold(kd.Digest, d.Digest) {
					matched = append(matched, k)
					break
				}
			}
		}
	}
	if len(matched) == 0 {
		tags := make([]string, len(ds))
		for i, d := range ds {
			tags[i] = fmt.Sprint(d.KeyTag)
		}
		return &zone{name: name, v: bogus(dns.ExtendedErrorCodeDNSKEYMissing,
			"no DNSKEY of %s matches its DS (key tags %s)", name, strings.Join(tags, ", "))}, 0
	}
	now := v.now()
	c := v.verifySet(set, name, matched, now)
	if c.v.sec != Secure {
		if c.v.sec == Insecure {
			return &zone{name: name, v: c.v}, 0
		}
		c.v.why = "DNSKEY set: " + c.v.why
		return &zone{name: name, v: c.v}, 0
	}
	ttl := capTTL(set, c, now)
	var usable []*dns.DNSKEY
	for _, k := range all {
		if v.algOK(k.Algorithm) {
			usable = append(usable, k)
		}
	}
	return &zone{name: name, v: secure, keys: usable}, time.Duration(ttl) * time.Second
}

// usableDS keeps the DS records this validator can use: supported key
// algorithm and digest type, and SHA-1 digests only where nothing stronger
// is offered for the key (RFC 4509 §3). None usable: the zone is
// insecure (RFC 6840 §5.2), and why says which EDE applies.
func (v *Validator) usableDS(ds []*dns.DS) ([]*dns.DS, verdict) {
	var out []*dns.DS
	strong := map[uint16]bool{}
	algSeen, digestSeen := false, false
	for _, d := range ds {
		if !v.algOK(d.Algorithm) {
			continue
		}
		algSeen = true
		if !v.digestOK(d.DigestType) {
			continue
		}
		digestSeen = true
		if d.DigestType != dns.SHA1 {
			strong[d.KeyTag] = true
		}
		out = append(out, d)
	}
	kept := out[:0]
	for _, d := range out {
		if d.DigestType == dns.SHA1 && strong[d.KeyTag] {
			continue
		}
		kept = append(kept, d)
	}
	switch {
	case len(kept) > 0:
		return kept, secure
	case !algSeen && len(ds) > 0:
		return nil, insecureEDE(dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm,
			"%s: no DS with a supported algorithm (algorithm %d)", ds[0].Hdr.Name, ds[0].Algorithm)
	case !digestSeen && len(ds) > 0:
		return nil, insecureEDE(dns.ExtendedErrorCodeUnsupportedDSDigestType,
			"%s: no DS with a supported digest type (digest %d)", ds[0].Hdr.Name, ds[0].DigestType)
	}
	return nil, bogus(dns.ExtendedErrorCodeDNSKEYMissing, "empty DS set")
}

// algOK reports whether DNSKEY algorithm a is validated.
func (v *Validator) algOK(a uint8) bool {
	switch a {
	case dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1:
		return v.cfg.allowSHA1()
	}
	return false
}

// digestOK reports whether DS digest type t is used.
func (v *Validator) digestOK(t uint8) bool {
	switch t {
	case dns.SHA256, dns.SHA384:
		return true
	case dns.SHA1:
		return v.cfg.allowSHA1()
	}
	return false
}
