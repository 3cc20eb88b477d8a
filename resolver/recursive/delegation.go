package recursive

import (
	"net/netip"
	"slices"
	"time"
)

// maxCacheTTL caps how long delegations and server addresses are kept,
// whatever their TTL says (Unbound's cache-max-ttl default).
const maxCacheTTL = 24 * time.Hour

// delegation is a zone cut learned from a referral: the zone and the host
// names of its name servers. Their addresses live in the address cache, so
// one name server serving many zones is looked up once.
type delegation struct {
	zone    string   // canonical
	ns      []string // canonical host names
	expires time.Time
}

// trust ranks where an address came from (RFC 2181 §5.4.1): glue from a
// parent's referral is replaced by the authoritative answer, never the
// other way round while the better data is fresh.
type trust uint8

const (
	trustGlue trust = iota + 1
	trustAnswer
)

// addrSet is one family's addresses of a host. A set with no addresses but
// an expiry is a remembered "has none" (NXDOMAIN/NODATA).
type addrSet struct {
	addrs   []netip.Addr
	expires time.Time
	trust   trust
}

func (s addrSet) fresh(now time.Time) bool { return now.Before(s.expires) }

// hostAddrs is what the address cache knows of one name-server host.
// glue4 and glue6 keep the parent-side glue even after the child's
// authoritative answer replaced it in v4 and v6: RFC 2181 §5.4.1 ranks
// data for caching, not for discarding, and when every address the child
// gives fails, the glue is the last resort (RFC 1034 §5.3.3).
type hostAddrs struct {
	v4, v6       addrSet
	glue4, glue6 addrSet
}

// caches holds what the resolver learns across queries: zone cuts, name
// server addresses, and (in infra) what it knows of each server. All
// bounded LRUs, safe for concurrent use.
type caches struct {
	deleg *lru[string, delegation]
	addrs *lru[string, hostAddrs]
	nocut *lru[string, inside]
}

// inside records that a name was found within zone, not delegated: a
// minimised query there got data or NODATA, not a referral. Later queries
// below it skip the minimised steps down to it. Staleness is harmless: a
// zone cut created since is found by the referral the deeper query gets.
type inside struct {
	zone    string
	expires time.Time
}

// maxNoCutTTL caps how long a name is remembered as not delegated.
const maxNoCutTTL = time.Hour

func newCaches(size int) *caches {
	return &caches{
		deleg: newLRU[string, delegation](size),
		addrs: newLRU[string, hostAddrs](2 * size),
		nocut: newLRU[string, inside](size),
	}
}

// deepestInside returns the deepest proper ancestor of name, below zone,
// remembered as inside zone; zone itself if none.
func (c *caches) deepestInside(zone, name string, now time.Time) string {
	for n := parent(name); n != zone && n != "."; n = parent(n) {
		if in, ok := c.nocut.get(n); ok && in.zone == zone && now.Before(in.expires) {
			return n
		}
	}
	return zone
}

// putInside remembers name as inside zone for ttl (capped).
func (c *caches) putInside(zone, name string, ttl uint32, now time.Time) {
	d := min(ttlDuration(ttl), maxNoCutTTL)
	if d > 0 {
		c.nocut.put(name, inside{zone: zone, expires: now.Add(d)})
	}
}

// delegation returns the fresh cached cut at zone.
func (c *caches) delegation(zone string, now time.Time) (delegation, bool) {
	d, ok := c.deleg.get(zone)
	if !ok || !now.Before(d.expires) {
		return delegation{}, false
	}
	return d, true
}

// putDelegation remembers a cut for ttl (capped); a zero TTL is not kept.
func (c *caches) putDelegation(zone string, ns []string, ttl uint32, now time.Time) {
	d := ttlDuration(ttl)
	if d <= 0 || len(ns) == 0 {
		return
	}
	c.deleg.put(zone, delegation{zone: zone, ns: slices.Clone(ns), expires: now.Add(d)})
}

// hostAddrs returns the fresh addresses known for host, per family.
func (c *caches) hostAddrs(host string, now time.Time) hostAddrs {
	h, _ := c.addrs.get(host)
	if !h.v4.fresh(now) {
		h.v4 = addrSet{}
	}
	if !h.v6.fresh(now) {
		h.v6 = addrSet{}
	}
	return h
}

// putAddrs stores one family of host's addresses, unless fresher data of
// higher trust is already there.
func (c *caches) putAddrs(host string, v6 bool, addrs []netip.Addr, ttl uint32, tr trust, now time.Time) {
	d := ttlDuration(ttl)
	if d <= 0 {
		return
	}
	set := addrSet{addrs: slices.Clone(addrs), expires: now.Add(d), trust: tr}
	c.addrs.update(host, func(old hostAddrs, _ bool) hostAddrs {
		cur, glue := &old.v4, &old.glue4
		if v6 {
			cur, glue = &old.v6, &old.glue6
		}
		if !cur.fresh(now) || cur.trust <= tr {
			*cur = set
		}
		if tr == trustGlue && len(addrs) > 0 {
			*glue = set
		}
		return old
	})
}

// glueAddrs returns the fresh parent-side glue remembered for host, both
// families.
func (c *caches) glueAddrs(host string, now time.Time) []netip.Addr {
	h, _ := c.addrs.get(host)
	var out []netip.Addr
	for _, s := range []addrSet{h.glue4, h.glue6} {
		if s.fresh(now) {
			out = append(out, s.addrs...)
		}
	}
	return out
}

// ttlDuration turns a record TTL into a cache lifetime, capped.
func ttlDuration(ttl uint32) time.Duration {
	return min(time.Duration(ttl)*time.Second, maxCacheTTL)
}
