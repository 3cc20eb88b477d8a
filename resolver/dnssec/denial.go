package dnssec

import (
	"strings"

	"github.com/miekg/dns"
)

// denial is the validated NSEC or NSEC3 records of one zone's answer: the
// material of an authenticated denial of existence (RFC 4035 §5.4, RFC
// 5155 §8). Its methods are pure, so they are tested and fuzzed alone.
type denial struct {
	zone    string
	nsec    []*dns.NSEC
	nsec3   []*dns.NSEC3
	maxIter int // NSEC3 iterations above this are not evaluated (RFC 9276)

	hashes map[string]string // name -> NSEC3 hash under params
	params *dns.NSEC3        // the parameters in use (the first usable record's)
}

// newDenial keeps the records that belong to zone: NSEC owned within it,
// NSEC3 owned directly below its apex with SHA-1 hashing.
func newDenial(zone string, rrs []dns.RR, maxIter int) *denial {
	d := &denial{zone: zone, maxIter: maxIter, hashes: map[string]string{}}
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.NSEC:
			if isAncestorOrSelf(zone, dns.CanonicalName(r.Hdr.Name)) {
				d.nsec = append(d.nsec, r)
			}
		case *dns.NSEC3:
			if r.Hash != dns.SHA1 || parentName(dns.CanonicalName(r.Hdr.Name)) != zone {
				continue
			}
			if d.params == nil {
				d.params = r
			} else if r.Iterations != d.params.Iterations || !strings.EqualFold(r.Salt, d.params.Salt) {
				continue // RFC 5155 §8.2: one parameter set per answer
			}
			d.nsec3 = append(d.nsec3, r)
		}
	}
	return d
}

// empty reports whether there is nothing to prove with.
func (d *denial) empty() bool { return len(d.nsec) == 0 && len(d.nsec3) == 0 }

// tooCostly reports whether the NSEC3 records use more iterations than
// allowed: the proof is then not evaluated and the answer is insecure.
func (d *denial) tooCostly() bool {
	return len(d.nsec) == 0 && d.params != nil && int(d.params.Iterations) > d.maxIter
}

func (d *denial) iterVerdict() verdict {
	return insecureEDE(dns.ExtendedErrorCodeUnsupportedNSEC3IterValue,
		"NSEC3 of %s uses %d iterations, more than the %d evaluated", d.zone, d.params.Iterations, d.maxIter)
}

func nsecMissing(format string, args ...any) verdict {
	return bogus(dns.ExtendedErrorCodeNSECMissing, format, args...)
}

// NXDomain checks a proof that name does not exist and that no wildcard
// could have answered instead. An NSEC3 opt-out span over the name makes
// the answer insecure: an unsigned delegation may hide there.
func (d *denial) NXDomain(name string) verdict {
	if len(d.nsec) > 0 {
		c := d.nsecCovering(name)
		if c == nil {
			return nsecMissing("no NSEC proves %s does not exist", name)
		}
		if v := d.nsecDelegationAbove(c, name); v.sec == Bogus {
			return v
		}
		if next := dns.CanonicalName(c.NextDomain); next != name && isAncestorOrSelf(name, next) {
			return bogus(dns.ExtendedErrorCodeDNSBogus, "NXDOMAIN for %s but names exist below it", name)
		}
		ce := d.nsecClosestEncloser(name, c)
		wild := "*." + ce
		if m := d.nsecMatching(wild); m != nil {
			return bogus(dns.ExtendedErrorCodeDNSBogus, "NXDOMAIN for %s but wildcard %s exists", name, wild)
		}
		if d.nsecCovering(wild) == nil {
			return nsecMissing("no NSEC proves wildcard %s does not exist", wild)
		}
		return secure
	}
	if d.tooCostly() {
		return d.iterVerdict()
	}
	ce, next, v := d.closestEncloser(name)
	if v.sec != Secure {
		return v
	}
	if ce == name {
		return bogus(dns.ExtendedErrorCodeDNSBogus, "NXDOMAIN for %s but an NSEC3 matches it", name)
	}
	cov := d.nsec3Covering(next)
	wild := "*." + ce
	if d.nsec3Matching(wild) != nil {
		return bogus(dns.ExtendedErrorCodeDNSBogus, "NXDOMAIN for %s but wildcard %s exists", name, wild)
	}
	if d.nsec3Covering(wild) == nil {
		return nsecMissing("no NSEC3 proves wildcard %s does not exist", wild)
	}
	if cov.Flags&1 != 0 {
		return insecure("NXDOMAIN for " + name + " in an NSEC3 opt-out span")
	}
	return secure
}

// NoData checks a proof that name exists without type t: a matching record
// without t (or CNAME) in its bitmap, an empty non-terminal, or a wildcard
// without t. For t = DS, an NSEC3 opt-out span over name proves an
// insecure delegation and yields insecure.
func (d *denial) NoData(name string, t uint16) verdict {
	if len(d.nsec) > 0 {
		if m := d.nsecMatching(name); m != nil {
			return bitmapNoData(name, t, m.TypeBitMap)
		}
		c := d.nsecCovering(name)
		if c == nil {
			return nsecMissing("no NSEC proves %s has no %s", name, typeName(t))
		}
		if v := d.nsecDelegationAbove(c, name); v.sec == Bogus {
			return v
		}
		next := dns.CanonicalName(c.NextDomain)
		if next != name && isAncestorOrSelf(name, next) {
			return secure // empty non-terminal (RFC 4035 §3.1.3.2)
		}
		wild := "*." + d.nsecClosestEncloser(name, c)
		if m := d.nsecMatching(wild); m != nil {
			return bitmapNoData(wild, t, m.TypeBitMap)
		}
		return nsecMissing("no NSEC proves %s has no %s", name, typeName(t))
	}
	if d.tooCostly() {
		return d.iterVerdict()
	}
	if m := d.nsec3Matching(name); m != nil {
		return bitmapNoData(name, t, m.TypeBitMap)
	}
	ce, next, v := d.closestEncloser(name)
	if v.sec != Secure {
		return v
	}
	cov := d.nsec3Covering(next)
	if t == dns.TypeDS && cov.Flags&1 != 0 {
		return insecure("no DS for " + name + ": NSEC3 opt-out")
	}
	wild := "*." + ce
	if m := d.nsec3Matching(wild); m != nil {
		return bitmapNoData(wild, t, m.TypeBitMap)
	}
	return nsecMissing("no NSEC3 proves %s has no %s", name, typeName(t))
}

// Wildcard checks that a wildcard answer for name, expanded from the
// wildcard of its last labels labels, was right to be: name itself does
// not exist (RFC 4035 §5.3.4, RFC 5155 §8.8).
func (d *denial) Wildcard(name string, labels int) verdict {
	if labels >= dns.CountLabel(name) {
		return secure
	}
	if len(d.nsec) > 0 {
		c := d.nsecCovering(name)
		if c == nil {
			return nsecMissing("wildcard answer for %s without an NSEC proving the name does not exist", name)
		}
		return secure
	}
	if d.tooCostly() {
		return d.iterVerdict()
	}
	next := lastLabels(name, labels+1)
	if d.nsec3Covering(next) == nil {
		return nsecMissing("wildcard answer for %s without an NSEC3 covering %s", name, next)
	}
	return secure
}

// DSAbsent judges a negative answer to a DS query for name, asked of its
// parent zone d.zone while walking down the chain of trust.
func (d *denial) DSAbsent(name string) dsResult {
	if len(d.nsec) > 0 {
		if m := d.nsecMatching(name); m != nil {
			return bitmapDS(name, m.TypeBitMap)
		}
		c := d.nsecCovering(name)
		if c == nil {
			return dsResult{kind: dsBogus, v: nsecMissing("no NSEC proves %s has no DS", name)}
		}
		if v := d.nsecDelegationAbove(c, name); v.sec == Bogus {
			return dsResult{kind: dsBogus, v: v}
		}
		return dsResult{kind: dsNoCut} // no such name, or an empty non-terminal
	}
	if d.empty() {
		return dsResult{kind: dsBogus, v: nsecMissing("no NSEC or NSEC3 proves %s has no DS", name)}
	}
	if d.tooCostly() {
		return dsResult{kind: dsInsecure, v: d.iterVerdict()}
	}
	if m := d.nsec3Matching(name); m != nil {
		return bitmapDS(name, m.TypeBitMap)
	}
	_, next, v := d.closestEncloser(name)
	if v.sec != Secure {
		return dsResult{kind: dsBogus, v: v}
	}
	if d.nsec3Covering(next).Flags&1 != 0 {
		return dsResult{kind: dsInsecure, v: insecure("no DS for " + name + ": NSEC3 opt-out")}
	}
	return dsResult{kind: dsNoCut}
}

// dsKind is what a DS answer says about a name below a secure zone.
type dsKind uint8

const (
	dsFound    dsKind = iota // a signed DS set: a secure delegation
	dsNoCut                  // not a delegation: the parent's keys go on
	dsInsecure               // a delegation proved to have no DS
	dsBogus
)

type dsResult struct {
	kind dsKind
	v    verdict
}

func bitmapNoData(name string, t uint16, bitmap []uint16) verdict {
	switch {
	case hasType(bitmap, t):
		return bogus(dns.ExtendedErrorCodeDNSBogus, "NODATA for %s %s but its NSEC lists the type", name, typeName(t))
	case hasType(bitmap, dns.TypeCNAME) && t != dns.TypeCNAME:
		return bogus(dns.ExtendedErrorCodeDNSBogus, "NODATA for %s %s but it has a CNAME", name, typeName(t))
	case t != dns.TypeDS && hasType(bitmap, dns.TypeNS) && !hasType(bitmap, dns.TypeSOA):
		return bogus(dns.ExtendedErrorCodeDNSBogus, "NODATA for %s %s from the parent side of a delegation", name, typeName(t))
	}
	return secure
}

func bitmapDS(name string, bitmap []uint16) dsResult {
	switch {
	case hasType(bitmap, dns.TypeDS):
		return dsResult{kind: dsBogus, v: bogus(dns.ExtendedErrorCodeDNSBogus, "DS for %s denied but its NSEC lists DS", name)}
	case hasType(bitmap, dns.TypeNS) && !hasType(bitmap, dns.TypeSOA):
		return dsResult{kind: dsInsecure, v: insecure("delegation to " + name + " has no DS")}
	}
	return dsResult{kind: dsNoCut}
}

// NSEC helpers.

func (d *denial) nsecMatching(name string) *dns.NSEC {
	for _, n := range d.nsec {
		if dns.CanonicalName(n.Hdr.Name) == name {
			return n
		}
	}
	return nil
}

// nsecCovering returns an NSEC whose span holds name strictly inside.
func (d *denial) nsecCovering(name string) *dns.NSEC {
	for _, n := range d.nsec {
		owner, next := dns.CanonicalName(n.Hdr.Name), dns.CanonicalName(n.NextDomain)
		if !isAncestorOrSelf(d.zone, next) {
			continue
		}
		lo, hi := canonicalCompare(owner, name), canonicalCompare(name, next)
		if canonicalCompare(owner, next) < 0 {
			if lo < 0 && hi < 0 {
				return n
			}
		} else if lo < 0 || hi < 0 { // the last NSEC wraps to the apex
			return n
		}
	}
	return nil
}

// nsecDelegationAbove rejects a covering NSEC owned by a delegation (or
// DNAME) above name: names below a cut are not the parent's to deny.
func (d *denial) nsecDelegationAbove(c *dns.NSEC, name string) verdict {
	owner := dns.CanonicalName(c.Hdr.Name)
	if owner == name || !isAncestorOrSelf(owner, name) {
		return secure
	}
	if hasType(c.TypeBitMap, dns.TypeDNAME) ||
		hasType(c.TypeBitMap, dns.TypeNS) && !hasType(c.TypeBitMap, dns.TypeSOA) {
		return bogus(dns.ExtendedErrorCodeDNSBogus, "denial for %s from above the cut or DNAME at %s", name, owner)
	}
	return secure
}

// nsecClosestEncloser is the deepest existing ancestor of name that the
// covering NSEC c shows (RFC 4035 §5.4).
func (d *denial) nsecClosestEncloser(name string, c *dns.NSEC) string {
	a := commonAncestor(name, dns.CanonicalName(c.Hdr.Name))
	b := commonAncestor(name, dns.CanonicalName(c.NextDomain))
	if dns.CountLabel(b) > dns.CountLabel(a) {
		a = b
	}
	if !isAncestorOrSelf(d.zone, a) {
		return d.zone
	}
	return a
}

// NSEC3 helpers.

func (d *denial) hash(name string) string {
	if d.params == nil {
		return ""
	}
	if h, ok := d.hashes[name]; ok {
		return h
	}
	h := dns.HashName(name, d.params.Hash, d.params.Iterations, d.params.Salt)
	d.hashes[name] = h
	return h
}

// zoneHash is name's hash when name is in the zone, else "".
func (d *denial) zoneHash(name string) string {
	if !isAncestorOrSelf(d.zone, name) {
		return ""
	}
	return d.hash(name)
}

func ownerHash(r *dns.NSEC3) string {
	owner := r.Hdr.Name
	if i := strings.IndexByte(owner, '.'); i >= 0 {
		owner = owner[:i]
	}
	return strings.ToUpper(owner)
}

func (d *denial) nsec3Matching(name string) *dns.NSEC3 {
	h := d.zoneHash(name)
	if h == "" {
		return nil
	}
	for _, r := range d.nsec3 {
		if ownerHash(r) == h {
			return r
		}
	}
	return nil
}

func (d *denial) nsec3Covering(name string) *dns.NSEC3 {
	h := d.zoneHash(name)
	if h == "" {
		return nil
	}
	for _, r := range d.nsec3 {
		owner, next := ownerHash(r), strings.ToUpper(r.NextDomain)
		switch {
		case owner == next: // one record: covers everything else
			if h != owner {
				return r
			}
		case owner < next:
			if owner < h && h < next {
				return r
			}
		default: // the last record wraps
			if h > owner || h < next {
				return r
			}
		}
	}
	return nil
}

// closestEncloser finds the closest encloser proof for name (RFC 5155
// §8.3): the deepest ancestor with a matching NSEC3, and the next closer
// name, which an NSEC3 must cover. ce == name when name itself matches.
func (d *denial) closestEncloser(name string) (ce, next string, v verdict) {
	if !isAncestorOrSelf(d.zone, name) {
		return "", "", nsecMissing("%s is not in zone %s", name, d.zone)
	}
	if d.params == nil {
		return "", "", nsecMissing("no NSEC3 for %s", name)
	}
	child := ""
	for n := name; ; n = parentName(n) {
		if m := d.nsec3Matching(n); m != nil {
			if n != name && n != d.zone && (hasType(m.TypeBitMap, dns.TypeDNAME) ||
				hasType(m.TypeBitMap, dns.TypeNS) && !hasType(m.TypeBitMap, dns.TypeSOA)) {
				return "", "", bogus(dns.ExtendedErrorCodeDNSBogus, "closest encloser %s of %s is a delegation or DNAME", n, name)
			}
			if n == name {
				return n, "", secure
			}
			if d.nsec3Covering(child) == nil {
				return "", "", nsecMissing("no NSEC3 covers the next closer name %s", child)
			}
			return n, child, secure
		}
		if n == d.zone || n == "." {
			return "", "", nsecMissing("no NSEC3 closest encloser for %s", name)
		}
		child = n
	}
}
