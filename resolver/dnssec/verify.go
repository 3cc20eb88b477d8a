package dnssec

import (
	"strings"
	"time"

	"github.com/miekg/dns"
)

// rrset is one RRset of a message section and the RRSIGs covering it.
type rrset struct {
	name  string // canonical owner
	rtype uint16
	rrs   []dns.RR
	sigs  []*dns.RRSIG
}

// rrsets groups a section into RRsets (RRSIGs attached to what they cover),
// in the order they first appear. OPT records are left out.
func rrsets(section []dns.RR) []*rrset {
	var out []*rrset
	find := func(name string, t uint16) *rrset {
		for _, s := range out {
			if s.rtype == t && s.name == name {
				return s
			}
		}
		return nil
	}
	for _, rr := range section {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT || h.Class != dns.ClassINET {
			continue
		}
		name := dns.CanonicalName(h.Name)
		if sig, ok := rr.(*dns.RRSIG); ok {
			s := find(name, sig.TypeCovered)
			if s == nil {
				s = &rrset{name: name, rtype: sig.TypeCovered}
				out = append(out, s)
			}
			s.sigs = append(s.sigs, sig)
			continue
		}
		s := find(name, h.Rrtype)
		if s == nil {
			s = &rrset{name: name, rtype: h.Rrtype}
			out = append(out, s)
		}
		s.rrs = append(s.rrs, rr)
	}
	return out
}

// signer is the zone the set's signatures claim, when one of them names a
// zone at or above the owner; "" when unsigned.
func (s *rrset) signer() string {
	for _, sig := range s.sigs {
		z := dns.CanonicalName(sig.SignerName)
		if isAncestorOrSelf(z, s.name) {
			return z
		}
	}
	return ""
}

// checked is the outcome of verifying one RRset's signatures.
type checked struct {
	v verdict
	// expires is when the earliest-expiring valid signature used ends;
	// the RRset's TTL must not outlive it.
	expires time.Time
	origTTL uint32
	// labels is the valid RRSIG's Labels field: fewer than the owner's
	// labels means a wildcard expansion (RFC 4035 §5.3.4).
	labels int
}

// verifySet checks that one of s's signatures by zone verifies with one of
// keys at now. Supported algorithms are those v.algOK accepts.
func (v *Validator) verifySet(s *rrset, zone string, keys []*dns.DNSKEY, now time.Time) checked {
	algOK := v.algOK
	if len(s.rrs) == 0 {
		return checked{v: bogus(dns.ExtendedErrorCodeDNSBogus, "RRSIG for %s %s without the RRset", s.name, dns.TypeToString[s.rtype])}
	}
	if len(s.sigs) == 0 {
		return checked{v: bogus(dns.ExtendedErrorCodeRRSIGsMissing, "no RRSIG for %s %s", s.name, dns.TypeToString[s.rtype])}
	}
	owner := dns.CountLabel(s.name)
	var expired, early, nokey, bad, unsupported int
	var last error
	for _, sig := range s.sigs {
		if dns.CanonicalName(sig.SignerName) != zone || int(sig.Labels) > owner {
			bad++
			continue
		}
		if !algOK(sig.Algorithm) {
			unsupported++
			continue
		}
		if !sig.ValidityPeriod(now) {
			if now.Unix() < int64(sig.Inception) {
				early++
			} else {
				expired++
			}
			continue
		}
		found := false
		for _, k := range keys {
			if k.Algorithm != sig.Algorithm || k.KeyTag() != sig.KeyTag {
				continue
			}
			found = true
			if err := v.sigs.verify(sig, k, s.rrs); err != nil {
				last = err
				continue
			}
			labels := int(sig.Labels)
			if isWildcardOwner(s.name) && labels == owner-1 {
				labels = owner // the wildcard itself, not an expansion
			}
			return checked{v: secure, expires: expiry(sig, now), origTTL: sig.OrigTtl, labels: labels}
		}
		if found {
			bad++
		} else {
			nokey++
		}
	}
	what := s.name + " " + dns.TypeToString[s.rtype]
	switch {
	case bad > 0:
		if last != nil {
			return checked{v: bogus(dns.ExtendedErrorCodeDNSBogus, "signature over %s does not verify: %v", what, last)}
		}
		return checked{v: bogus(dns.ExtendedErrorCodeDNSBogus, "no valid signature by %s over %s", zone, what)}
	case expired > 0:
		return checked{v: bogus(dns.ExtendedErrorCodeSignatureExpired, "signature over %s expired", what)}
	case early > 0:
		return checked{v: bogus(dns.ExtendedErrorCodeSignatureNotYetValid, "signature over %s not yet valid", what)}
	case nokey > 0:
		return checked{v: bogus(dns.ExtendedErrorCodeDNSBogus, "no DNSKEY of %s matches the signature over %s", zone, what)}
	case unsupported > 0:
		return checked{v: insecureEDE(dns.ExtendedErrorCodeUnsupportedDNSKEYAlgorithm, "%s signed only with unsupported algorithms", what)}
	}
	return checked{v: bogus(dns.ExtendedErrorCodeDNSBogus, "no usable signature over %s", what)}
}

// expiry is when sig expires. RRSIG times are serial numbers modulo 2^32
// (RFC 4034 §3.1.5); read as plain seconds they are right until 2106.
func expiry(sig *dns.RRSIG, _ time.Time) time.Time { return time.Unix(int64(sig.Expiration), 0) }

// capTTL lowers the TTL of s's records and signatures to the signature's
// original TTL and to the time left until it expires (RFC 4035 §5.3.3).
func capTTL(s *rrset, c checked, now time.Time) uint32 {
	limit := c.origTTL
	if left := c.expires.Sub(now) / time.Second; left >= 0 && uint64(left) < uint64(limit) {
		limit = uint32(left)
	}
	min := limit
	for _, rr := range s.rrs {
		h := rr.Header()
		h.Ttl = minU32(h.Ttl, limit)
		min = minU32(min, h.Ttl)
	}
	for _, sig := range s.sigs {
		sig.Hdr.Ttl = minU32(sig.Hdr.Ttl, limit)
	}
	return min
}

func minU32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}

// typeName prints t for reasons.
func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return strings.TrimSpace(dns.Type(t).String())
}
