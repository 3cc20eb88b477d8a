package cache

import (
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// kind is what an entry says, which decides its TTL rule and whether it may
// be served stale.
type kind uint8

const (
	kindPositive kind = iota // NOERROR with an answer of the asked type
	kindNegative             // NXDOMAIN or NODATA (RFC 2308)
	kindServfail             // cached briefly (RFC 2308 §7), never served stale
)

// entry is one cached answer. Everything but the atomics is immutable once
// stored, so a hit reads it without holding the shard lock; a refresh
// replaces the entry rather than changing it.
type entry struct {
	msg     *dns.Msg // header and sections with stored TTLs; never handed out
	rrs     []dns.RR // msg's answer, authority and additional records, in order
	ttls    []uint32 // stored TTL of each of rrs
	shape   shape
	wire    []byte   // msg packed with ID 0, for AppendWire; nil if it did not pack or has aliases
	ttlOffs []uint16 // offset in wire of the TTL of each RR, parallel to ttls
	stored  time.Time
	life    time.Duration // whole seconds: the smallest stored TTL
	kind    kind
	// ede is the Extended DNS Errors the next step put in its OPT (the
	// validator's reasons): kept so a cached SERVFAIL still says why.
	ede []dns.EDNS0

	hits        atomic.Uint32 // counted up to prefetchHits only
	prefetching atomic.Bool   // a prefetch was started for this entry
	retryAt     atomic.Int64  // UnixNano before which a failed refresh is not retried
}

// newEntry builds the entry to store for resp, or returns nil when resp must
// not be cached: truncated, for another question, an rcode other than
// NOERROR/NXDOMAIN/SERVFAIL, a negative answer without SOA (RFC 2308 §5), or
// a TTL of zero.
func (c *Cache) newEntry(k key, resp *dns.Msg, now time.Time) *entry {
	if resp.Truncated || len(resp.Question) != 1 || !k.matches(resp.Question[0]) {
		return nil
	}
	var kd kind
	switch resp.Rcode {
	case dns.RcodeSuccess:
		kd = kindNegative
		if hasAnswer(resp.Answer, k.qtype) {
			kd = kindPositive
		}
	case dns.RcodeNameError:
		kd = kindNegative
	case dns.RcodeServerFailure:
		kd = kindServfail
	default:
		return nil
	}
	// limit caps every TTL of a negative or SERVFAIL entry.
	var limit uint32
	switch kd {
	case kindNegative:
		limit = negativeTTL(resp.Ns, seconds(c.cfg.NegativeTTL))
	case kindServfail:
		limit = seconds(c.cfg.ServfailTTL)
	}
	if kd != kindPositive && limit == 0 {
		return nil
	}

	n := len(resp.Answer) + len(resp.Ns) + len(resp.Extra)
	e := &entry{stored: now, kind: kd, ttls: make([]uint32, 0, n)}
	rrs := make([]dns.RR, 0, n)
	life := limit
	if kd == kindPositive {
		life = ^uint32(0)
	}
	section := func(src []dns.RR) []dns.RR {
		start := len(rrs)
		for _, rr := range src {
			h := rr.Header()
			if opt, ok := rr.(*dns.OPT); ok {
				e.ede = edeOptions(opt) // the responder owns OPT; its TTL field is not a TTL
				continue
			}
			var t uint32
			switch {
			case kd == kindPositive:
				t = clamp(h.Ttl, seconds(c.cfg.MinTTL), seconds(c.cfg.MaxTTL))
			case h.Rrtype == dns.TypeSOA && kd == kindNegative:
				t = limit // RFC 2308 §5: the SOA carries the negative TTL
			default:
				t = min(h.Ttl, limit)
			}
			cp := dns.Copy(rr)
			cp.Header().Ttl = t
			rrs = append(rrs, cp)
			e.ttls = append(e.ttls, t)
			life = min(life, t)
		}
		if len(rrs) == start {
			return nil
		}
		return rrs[start:len(rrs):len(rrs)]
	}
	m := &dns.Msg{MsgHdr: resp.MsgHdr, Compress: true, Question: []dns.Question{resp.Question[0]}}
	m.Id = 0
	m.Answer = section(resp.Answer)
	m.Ns = section(resp.Ns)
	m.Extra = section(resp.Extra)
	if life == 0 || life == ^uint32(0) {
		return nil
	}
	e.msg, e.rrs, e.shape = m, rrs, shapeOf(rrs)
	e.life = time.Duration(life) * time.Second
	if len(e.ede) == 0 { // the fast path's wire form carries no EDE: such answers take the chain
		e.wire, e.ttlOffs = packWire(m, len(e.ttls))
	}
	return e
}

// edeOptions returns the EDE options of opt.
func edeOptions(opt *dns.OPT) []dns.EDNS0 {
	var out []dns.EDNS0
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			out = append(out, &dns.EDNS0_EDE{InfoCode: e.InfoCode, ExtraText: e.ExtraText})
		}
	}
	return out
}

// hasAnswer reports whether answer holds a record of the asked type; a
// NOERROR without one (a bare CNAME chain included) is NODATA.
func hasAnswer(answer []dns.RR, qtype uint16) bool {
	for _, rr := range answer {
		if t := rr.Header().Rrtype; t == qtype || qtype == dns.TypeANY {
			return true
		}
	}
	return false
}

// negativeTTL is min(SOA TTL, SOA MINIMUM) capped at max (RFC 2308 §5), or
// 0 without an SOA: such answers are not cached.
func negativeTTL(ns []dns.RR, max uint32) uint32 {
	for _, rr := range ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl, max)
		}
	}
	return 0
}

func clamp(t, lo, hi uint32) uint32 { return min(max(t, lo), hi) }

// seconds converts a config duration to a TTL, saturating.
func seconds(d time.Duration) uint32 {
	s := d / time.Second
	if s > 1<<31-1 {
		return 1<<31 - 1
	}
	return uint32(max(s, 0))
}

// expired reports whether the entry's life has run out at now.
func (e *entry) expired(now time.Time) bool { return now.Sub(e.stored) >= e.life }

// staleUsable reports whether an expired entry may still be served at now.
func (e *entry) staleUsable(now time.Time, staleMax time.Duration) bool {
	return e.kind != kindServfail && staleMax > 0 && now.Sub(e.stored) < e.life+staleMax
}

// age is the whole seconds the entry has spent in the cache at now.
func (e *entry) age(now time.Time) uint32 {
	return uint32(max(now.Sub(e.stored), 0) / time.Second)
}
