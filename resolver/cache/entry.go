package cache

import (
	"encoding/binary"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
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

// newEntry builds the entry to store for resp, a decoded answer (the
// recursive resolver's, the validator's): resp is packed once, and
// wireEntry decides on the wire form, as for an upstream's reply.
func (c *Cache) newEntry(k key, resp *dns.Msg, now time.Time) *entry {
	if len(resp.Question) != 1 {
		return nil
	}
	// The response may share its records with the next step, so they are
	// not modified: the TTLs are written into the wire.
	m := &dns.Msg{MsgHdr: resp.MsgHdr, Compress: true, Question: []dns.Question{resp.Question[0]},
		Answer: resp.Answer, Ns: resp.Ns, Extra: withoutOPT(resp.Extra)}
	m.Id = 0
	wire, err := m.Pack()
	if err != nil {
		return nil
	}
	return c.wireEntry(k, wire, packEDE(resp.IsEdns0()), now)
}

// wireEntry builds the entry to store for an answer in wire form (without
// OPT; ede the EDE options of the step below, packed), or returns nil when
// it must not be cached: truncated, for another question, an rcode other
// than NOERROR/NXDOMAIN/SERVFAIL, a negative answer without SOA (RFC 2308
// §5), a TTL of zero, not shaped like a message, or larger than
// max_entry_bytes. It reads the wire without decoding it; the wire is
// stored as it is, its TTL fields holding the stored TTLs.
func (c *Cache) wireEntry(k key, wire, ede []byte, now time.Time) *entry {
	if len(wire) < dnswire.HeaderLen || dnswire.Flags(wire)&dnswire.FlagTC != 0 || !k.matchesWire(wire) {
		return nil
	}
	f := wireFacts(wire, k.qtype)
	if !f.ok {
		return nil
	}
	var kd kind
	switch dnswire.Rcode(wire) {
	case dns.RcodeSuccess:
		kd = kindNegative
		if f.answers {
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
		limit = min(f.soa, seconds(c.cfg.NegativeTTL)) // 0 without an SOA: not cached
	case kindServfail:
		limit = seconds(c.cfg.ServfailTTL)
	}
	if kd != kindPositive && limit == 0 {
		return nil
	}
	body, life, ok := newBody(wire, ede, func(r dnswire.RR, t uint32) uint32 {
		switch {
		case kd == kindPositive:
			return clamp(t, seconds(c.cfg.MinTTL), seconds(c.cfg.MaxTTL))
		case r.Type == dns.TypeSOA && kd == kindNegative:
			return limit // RFC 2308 §5: the SOA carries the negative TTL
		}
		return min(t, limit)
	})
	if kd != kindPositive {
		life = min(life, limit) // an entry without records lives limit
	}
	if !ok || life == 0 || life == ^uint32(0) || len(body)+keyLen(k) > c.cfg.MaxEntryBytes {
		return nil
	}
	e := &entry{body: body}
	e.stored, e.kind = now.UnixNano(), kd
	e.life = int64(time.Duration(life) * time.Second)
	e.alias = f.alias
	e.ede = len(ede) > 0
	e.shape = shapeOf(body)
	return e
}

// facts are what decides an answer's kind and negative TTL, read from its
// wire form by wireFacts.
type facts struct {
	ok      bool   // shaped like a message, no OPT, nothing after the last record
	answers bool   // the answer section holds a record of the asked type
	alias   bool   // the answer section holds a CNAME or DNAME
	soa     uint32 // min(TTL, MINIMUM) of the first SOA in the authority section; 0 without one
}

// wireFacts walks wire once for the facts newEntry decides on.
func wireFacts(wire []byte, qtype uint16) facts {
	var f facts
	soa := false
	end, ok := dnswire.Walk(wire, func(r dnswire.RR) bool {
		switch {
		case r.Section == dnswire.SectionAnswer:
			// A NOERROR without a record of the asked type (a bare CNAME
			// chain included) is NODATA.
			f.answers = f.answers || r.Type == qtype || qtype == dns.TypeANY
			f.alias = f.alias || r.Type == dns.TypeCNAME || r.Type == dns.TypeDNAME
		case r.Section == dnswire.SectionAuthority && r.Type == dns.TypeSOA && !soa:
			// RDATA: two names, then five 32-bit fields, MINIMUM last.
			soa = true
			if r.Len < 22 {
				return false
			}
			f.soa = min(binary.BigEndian.Uint32(wire[r.TTL:]), binary.BigEndian.Uint32(wire[r.End()-4:]))
		}
		return r.Type != dns.TypeOPT // the responder owns OPT; its TTL field is not a TTL
	})
	f.ok = ok && end == len(wire)
	return f
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
