package cache

import (
	"encoding/binary"
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

// meta is what the cache needs to know about an entry without decoding it.
// It holds no pointers: the store keeps it in a flat slice the collector
// never scans.
type meta struct {
	stored  int64 // UnixNano when stored
	life    int64 // nanoseconds, whole seconds: the smallest stored TTL
	retryAt int64 // UnixNano before which a failed refresh is not retried
	gen     uint64
	kind    kind
	shape   shape
	alias   bool // the answer holds a CNAME or DNAME: see AppendWire
	ede     bool // the body carries EDE options: see AppendWire
}

// entry is one cached answer outside the store: built from a response to be
// stored, or copied out of the store. Its body is the answer in wire form,
//
//	[wire length u16][record count u16][EDE length u16][wire][TTL offset u16 per record][EDE]
//
// where wire is the message packed with ID 0 and no OPT, each record's TTL
// field holding its stored TTL, and EDE is the Extended DNS Errors the next
// step put in its OPT (the validator's reasons, kept so that a cached
// SERVFAIL still says why), each as [code u16][text length u16][text]. An
// entry is immutable; a refresh stores a new one.
type entry struct {
	meta
	body []byte
}

// bodyHeader is the size of a body's length fields.
const bodyHeader = 6

// Body layout helpers. A body is made by newBody and only ever read by these.
func bodyWire(b []byte) []byte { return b[bodyHeader : bodyHeader+int(binary.BigEndian.Uint16(b))] }
func bodyRecords(b []byte) int { return int(binary.BigEndian.Uint16(b[2:])) }
func bodyLen(b []byte) int     { return bodyEDEOffset(b) + int(binary.BigEndian.Uint16(b[4:])) }

// bodyEDEOffset is where the body's EDE options begin.
func bodyEDEOffset(b []byte) int {
	return bodyHeader + int(binary.BigEndian.Uint16(b)) + 2*int(binary.BigEndian.Uint16(b[2:]))
}

// bodyEDE is the body's EDE options, packed; empty for most answers.
func bodyEDE(b []byte) []byte { return b[bodyEDEOffset(b):bodyLen(b)] }

// bodyTTLOffset is the offset in the wire of record i's TTL field.
func bodyTTLOffset(b []byte, i int) int {
	return int(binary.BigEndian.Uint16(b[bodyHeader+int(binary.BigEndian.Uint16(b))+2*i:]))
}

// newEntry builds the entry to store for resp, or returns nil when resp must
// not be cached: truncated, for another question, an rcode other than
// NOERROR/NXDOMAIN/SERVFAIL, a negative answer without SOA (RFC 2308 §5), a
// TTL of zero, or larger than max_entry_bytes.
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

	// The records are packed as they are and their TTL fields patched in
	// the wire afterwards: the response may share its records with the
	// next step, so they are not modified.
	m := &dns.Msg{MsgHdr: resp.MsgHdr, Compress: true, Question: []dns.Question{resp.Question[0]},
		Answer: resp.Answer, Ns: resp.Ns, Extra: withoutOPT(resp.Extra)}
	m.Id = 0
	life := limit
	if kd == kindPositive {
		life = ^uint32(0)
	}
	ttls := make([]uint32, 0, len(m.Answer)+len(m.Ns)+len(m.Extra))
	for _, sec := range [...][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			var t uint32
			switch {
			case kd == kindPositive:
				t = clamp(h.Ttl, seconds(c.cfg.MinTTL), seconds(c.cfg.MaxTTL))
			case h.Rrtype == dns.TypeSOA && kd == kindNegative:
				t = limit // RFC 2308 §5: the SOA carries the negative TTL
			default:
				t = min(h.Ttl, limit)
			}
			ttls = append(ttls, t)
			life = min(life, t)
		}
	}
	if life == 0 || life == ^uint32(0) {
		return nil
	}
	body, ok := newBody(m, ttls, packEDE(resp.IsEdns0()))
	if !ok || len(body)+keyLen(k) > c.cfg.MaxEntryBytes {
		return nil
	}
	e := &entry{body: body}
	e.stored, e.kind = now.UnixNano(), kd
	e.life = int64(time.Duration(life) * time.Second)
	e.alias = hasAlias(m.Answer)
	e.ede = len(bodyEDE(body)) > 0
	e.shape = shapeOf(body)
	return e
}

// withoutOPT returns extra without its OPT record: the responder owns OPT,
// and its TTL field is not a TTL.
func withoutOPT(extra []dns.RR) []dns.RR {
	for i, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			out := make([]dns.RR, 0, len(extra)-1)
			out = append(out, extra[:i]...)
			for _, rr := range extra[i+1:] {
				if rr.Header().Rrtype != dns.TypeOPT {
					out = append(out, rr)
				}
			}
			return out
		}
	}
	return extra
}

// packEDE returns the EDE options of opt (nil without one) in the body's
// form; the rest of the next step's OPT is the responder's to set.
func packEDE(opt *dns.OPT) []byte {
	if opt == nil {
		return nil
	}
	var out []byte
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok && len(e.ExtraText) <= 0xffff {
			out = binary.BigEndian.AppendUint16(out, e.InfoCode)
			out = binary.BigEndian.AppendUint16(out, uint16(len(e.ExtraText)))
			out = append(out, e.ExtraText...)
		}
	}
	return out
}

// edeOption returns an OPT carrying only the EDE options packed in ede, or
// nil if there are none or they do not decode.
func edeOption(ede []byte) *dns.OPT {
	if len(ede) == 0 {
		return nil
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	for len(ede) >= 4 {
		n := int(binary.BigEndian.Uint16(ede[2:]))
		if 4+n > len(ede) {
			return nil
		}
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: binary.BigEndian.Uint16(ede), ExtraText: string(ede[4 : 4+n])})
		ede = ede[4+n:]
	}
	if len(ede) != 0 {
		return nil
	}
	return opt
}

// hasAlias reports whether answer holds a CNAME or DNAME, whose targets the
// policy step above the cache must check on every answer.
func hasAlias(answer []dns.RR) bool {
	for _, rr := range answer {
		if t := rr.Header().Rrtype; t == dns.TypeCNAME || t == dns.TypeDNAME {
			return true
		}
	}
	return false
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

// expired reports whether the entry's life has run out at now (UnixNano).
func (m *meta) expired(now int64) bool { return now-m.stored >= m.life }

// staleUsable reports whether an expired entry may still be served at now.
func (m *meta) staleUsable(now int64, staleMax time.Duration) bool {
	return m.kind != kindServfail && staleMax > 0 && now-m.stored < m.life+int64(staleMax)
}

// age is the whole seconds the entry has spent in the cache at now.
func (m *meta) age(now int64) uint32 {
	return uint32(max(now-m.stored, 0) / int64(time.Second))
}
