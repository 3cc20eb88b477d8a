package dnssec

import (
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
)

// Bounds of the aggressive NSEC cache.
const (
	nsecZones       = 1000      // zones whose NSEC records are kept
	nsecPerZone     = 1000      // NSEC records kept per zone
	maxAggressiveTT = time.Hour // as Unbound's cache-max-negative-ttl
)

// nsecCache is RFC 8198's aggressive use of DNSSEC-validated cache: the
// NSEC records of validated NXDOMAIN answers, kept per zone, prove other
// names absent without asking (a random-subdomain flood against a signed
// zone then costs its servers nothing). Only NXDOMAIN is synthesized, and
// only from NSEC: NSEC3 hashes would need the zone's whole hash ring
// before they prove much (Unbound makes the same choice).
type nsecCache struct {
	zones *lru.Cache[string, *nsecZone]
}

type nsecZone struct {
	mu     sync.Mutex
	soa    []dns.RR // the zone's SOA and its RRSIGs, for the synthesized answer
	nsec   map[string]nsecEntry
	owners []string // the keys of nsec in canonical order, for binary search
}

// nsecEntry is one validated NSEC record with its RRSIGs.
type nsecEntry struct {
	rrs     []dns.RR
	expires time.Time
}

func newNSECCache() *nsecCache {
	z, _ := lru.New[string, *nsecZone](nsecZones)
	return &nsecCache{zones: z}
}

// store keeps the NSEC records of ns, the authority section of an answer
// the validator found secure (every NSEC, NSEC3 and SOA set in it within
// the zone was verified), for as long as their TTLs (already capped by the
// signatures' expiry) and the SOA's negative TTL allow.
func (c *nsecCache) store(ns []dns.RR, now time.Time) {
	var zone string
	var soa []dns.RR
	limit := uint32(maxAggressiveTT / time.Second)
	for _, s := range rrsets(ns) {
		if s.rtype == dns.TypeSOA && len(s.rrs) == 1 {
			zone, soa = s.name, copyRRs(append(append([]dns.RR(nil), s.rrs...), sigRRs(s)...), maxAggressiveTT)
			r := s.rrs[0].(*dns.SOA)
			limit = min(limit, r.Hdr.Ttl, r.Minttl)
		}
	}
	if zone == "" {
		return
	}
	e, ok := c.zones.Get(zone)
	if !ok {
		e = &nsecZone{nsec: map[string]nsecEntry{}}
		c.zones.Add(zone, e)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.soa = soa
	for _, s := range rrsets(ns) {
		if s.rtype != dns.TypeNSEC || len(s.rrs) != 1 || s.signer() != zone || !isAncestorOrSelf(zone, s.name) {
			continue
		}
		if _, have := e.nsec[s.name]; !have && len(e.nsec) >= nsecPerZone {
			e.prune(now)
			if len(e.nsec) >= nsecPerZone {
				continue
			}
		}
		if _, have := e.nsec[s.name]; !have {
			i, _ := slices.BinarySearchFunc(e.owners, s.name, canonicalCompare)
			e.owners = slices.Insert(e.owners, i, s.name)
		}
		ttl := min(limit, s.rrs[0].Header().Ttl)
		e.nsec[s.name] = nsecEntry{rrs: copyRRs(append([]dns.RR{s.rrs[0]}, sigRRs(s)...), maxAggressiveTT),
			expires: now.Add(time.Duration(ttl) * time.Second)}
	}
}

// prune drops expired entries; e.mu is held.
func (e *nsecZone) prune(now time.Time) {
	for k, n := range e.nsec {
		if !now.Before(n.expires) {
			delete(e.nsec, k)
		}
	}
	e.owners = slices.DeleteFunc(e.owners, func(o string) bool { _, ok := e.nsec[o]; return !ok })
}

// covering is the fresh NSEC whose span may hold name: the one owned by
// the greatest owner before it, or the last one (which wraps to the apex).
// The caller checks the span.
func (e *nsecZone) covering(name string, now time.Time) *dns.NSEC {
	if len(e.owners) == 0 {
		return nil
	}
	i, _ := slices.BinarySearchFunc(e.owners, name, canonicalCompare)
	if i == 0 {
		i = len(e.owners)
	}
	n := e.nsec[e.owners[i-1]]
	if !now.Before(n.expires) {
		return nil
	}
	return n.rrs[0].(*dns.NSEC)
}

// nxdomain synthesizes the NXDOMAIN answer to q from the NSEC records of
// the deepest zone held above q.Name, or returns nil when they do not
// prove it (the name, or a wildcard that would answer it, may exist).
func (c *nsecCache) nxdomain(q dns.Question, now time.Time, maxIter int) *dns.Msg {
	if q.Qtype == dns.TypeDS {
		return nil // answered from the parent side: let the chain decide
	}
	for zone := q.Name; ; zone = parentName(zone) {
		if e, ok := c.zones.Peek(zone); ok {
			return e.nxdomain(zone, q, now, maxIter)
		}
		if zone == "." {
			return nil
		}
	}
}

func (e *nsecZone) nxdomain(zone string, q dns.Question, now time.Time, maxIter int) *dns.Msg {
	e.mu.Lock()
	defer e.mu.Unlock()
	cover := e.covering(q.Name, now)
	if cover == nil || len(e.soa) == 0 {
		return nil
	}
	one := newDenial(zone, []dns.RR{cover}, maxIter)
	if one.nsecCovering(q.Name) == nil {
		return nil
	}
	wild := e.covering("*."+one.nsecClosestEncloser(q.Name, cover), now)
	if wild == nil {
		return nil
	}
	proof := []dns.RR{cover}
	if wild != cover {
		proof = append(proof, wild)
	}
	// The whole proof, as for an answer from a server: the name and the
	// wildcard that could have answered it covered, no delegation above.
	if newDenial(zone, proof, maxIter).NXDomain(q.Name).sec != Secure {
		return nil
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Rcode: dns.RcodeNameError, RecursionAvailable: true,
		AuthenticatedData: true}, Question: []dns.Question{q}}
	c, w := e.nsec[dns.CanonicalName(cover.Hdr.Name)], e.nsec[dns.CanonicalName(wild.Hdr.Name)]
	left := min(c.expires.Sub(now), w.expires.Sub(now))
	m.Ns = append(m.Ns, copyRRs(e.soa, left)...)
	m.Ns = append(m.Ns, copyRRs(c.rrs, left)...)
	if wild != cover {
		m.Ns = append(m.Ns, copyRRs(w.rrs, left)...)
	}
	return m
}

func sigRRs(s *rrset) []dns.RR {
	out := make([]dns.RR, len(s.sigs))
	for i, sig := range s.sigs {
		out[i] = sig
	}
	return out
}

// copyRRs copies records between the cache and answers (the steps above
// edit TTLs), their TTLs at most left.
func copyRRs(rrs []dns.RR, left time.Duration) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
		h := out[i].Header()
		h.Ttl = min(h.Ttl, uint32(max(left, 0)/time.Second))
	}
	return out
}
