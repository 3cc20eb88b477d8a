package cache

import (
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// staleTTL is the TTL of stale answers, as RFC 8767 §4 recommends.
const staleTTL = 30

// shape says how a hit copies an entry's records. Most answers are one or
// two A or AAAA records; for those a hit allocates exactly once.
type shape uint8

const (
	shapeAny  shape = iota
	shapeA          // 1..inlineRRs records, all *dns.A
	shapeAAAA       // 1..inlineRRs records, all *dns.AAAA
)

// inlineRRs is how many records of a common shape live inside the one
// allocation of a hit.
const inlineRRs = 2

// shapeOf classifies rrs for response.
func shapeOf(rrs []dns.RR) shape {
	if len(rrs) == 0 || len(rrs) > inlineRRs {
		return shapeAny
	}
	var s shape
	for i, rr := range rrs {
		var t shape
		switch rr.(type) {
		case *dns.A:
			t = shapeA
		case *dns.AAAA:
			t = shapeAAAA
		default:
			return shapeAny
		}
		if i > 0 && t != s {
			return shapeAny
		}
		s = t
	}
	return s
}

// respBlock lets a hit allocate the message, its question and the section
// slice of a small answer in one go.
type respBlock struct {
	m  dns.Msg
	q  [1]dns.Question
	rr [4]dns.RR
}

// blockOf adds room for the records themselves, for the common shapes.
type blockOf[T any] struct {
	respBlock
	v [inlineRRs]T
}

// response returns a new message answering req from e, every TTL either
// aged by age seconds or, when stale, set to staleTTL. The message and its
// RR structs are the caller's; the RDATA slices inside them (addresses,
// TXT strings, ...) are shared with the cache and must be treated as
// read-only — copying them would double the cost of a hit.
func (e *entry) response(req *contract.Request, age uint32, stale bool) *dns.Msg {
	switch e.shape {
	case shapeA:
		return responseOf[dns.A](e, req, age, stale)
	case shapeAAAA:
		return responseOf[dns.AAAA](e, req, age, stale)
	}
	b := new(respBlock)
	rrs := b.init(e, req)
	for i, rr := range e.rrs {
		rrs[i] = withTTL(rr, e.ttl(i, age, stale))
		e.echoOwner(rrs[i].Header(), req)
	}
	b.split(e, rrs)
	return &b.m
}

// echoOwner gives a record owned by the stored question name the client's
// spelling of it (0x20 letter case), as the zero-copy answers do by
// compressing the owner into the client's question: both paths then pack
// to the same size, so they truncate alike.
func (e *entry) echoOwner(h *dns.RR_Header, req *contract.Request) {
	if h.Name == e.msg.Question[0].Name {
		h.Name = req.Question.Name
	}
}

func responseOf[T any, P interface {
	*T
	dns.RR
}](e *entry, req *contract.Request, age uint32, stale bool) *dns.Msg {
	b := new(blockOf[T])
	rrs := b.init(e, req)
	for i, rr := range e.rrs {
		b.v[i] = *rr.(P)
		p := P(&b.v[i])
		p.Header().Ttl = e.ttl(i, age, stale)
		e.echoOwner(p.Header(), req)
		rrs[i] = p
	}
	b.split(e, rrs)
	return &b.m
}

// init fills in the header and question and returns room for len(e.rrs)
// records.
func (b *respBlock) init(e *entry, req *contract.Request) []dns.RR {
	b.m.MsgHdr = e.msg.MsgHdr
	if req.Msg != nil {
		b.m.Id = req.Msg.Id
		b.m.RecursionDesired = req.Msg.RecursionDesired
	}
	b.m.Compress = true
	b.q[0] = req.Question
	b.m.Question = b.q[:]
	if n := len(e.rrs); n > len(b.rr) {
		return make([]dns.RR, n)
	}
	return b.rr[:len(e.rrs)]
}

// split cuts rrs into the sections e has, each capped so that a caller's
// append to one section cannot overwrite the next.
func (b *respBlock) split(e *entry, rrs []dns.RR) {
	na, nn := len(e.msg.Answer), len(e.msg.Ns)
	b.m.Answer = section(rrs, 0, na)
	b.m.Ns = section(rrs, na, na+nn)
	b.m.Extra = section(rrs, na+nn, len(rrs))
	if len(e.ede) > 0 {
		// A fresh OPT carrying only the EDEs; the responder sets the rest.
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: e.ede}
		b.m.Extra = append(b.m.Extra[:len(b.m.Extra):len(b.m.Extra)], opt)
	}
}

func section(rrs []dns.RR, lo, hi int) []dns.RR {
	if lo == hi {
		return nil
	}
	return rrs[lo:hi:hi]
}

// ttl is the TTL record i is served with.
func (e *entry) ttl(i int, age uint32, stale bool) uint32 {
	if stale {
		return staleTTL
	}
	t := e.ttls[i]
	return t - min(age, t)
}

// withTTL copies the RR struct (not its RDATA slices) with a new TTL. The
// common types are copied by value; the rest fall back to a deep dns.Copy.
func withTTL(rr dns.RR, ttl uint32) dns.RR {
	switch r := rr.(type) {
	case *dns.A:
		return shallow(r, ttl)
	case *dns.AAAA:
		return shallow(r, ttl)
	case *dns.CNAME:
		return shallow(r, ttl)
	case *dns.SOA:
		return shallow(r, ttl)
	case *dns.HTTPS:
		return shallow(r, ttl)
	case *dns.RRSIG:
		return shallow(r, ttl)
	case *dns.NS:
		return shallow(r, ttl)
	case *dns.MX:
		return shallow(r, ttl)
	case *dns.TXT:
		return shallow(r, ttl)
	case *dns.PTR:
		return shallow(r, ttl)
	case *dns.SRV:
		return shallow(r, ttl)
	case *dns.SVCB:
		return shallow(r, ttl)
	case *dns.DNAME:
		return shallow(r, ttl)
	case *dns.NSEC:
		return shallow(r, ttl)
	case *dns.NSEC3:
		return shallow(r, ttl)
	case *dns.DS:
		return shallow(r, ttl)
	case *dns.DNSKEY:
		return shallow(r, ttl)
	case *dns.CAA:
		return shallow(r, ttl)
	}
	cp := dns.Copy(rr)
	cp.Header().Ttl = ttl
	return cp
}

func shallow[T any, P interface {
	*T
	dns.RR
}](p P, ttl uint32) dns.RR {
	c := P(new(T))
	*c = *p
	c.Header().Ttl = ttl
	return c
}
