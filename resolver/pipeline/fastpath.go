package pipeline

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// WireCache is the cache's zero-copy side: it appends a fresh cached answer
// to req in wire form (client's ID, RD bit and letter case; aged TTLs; no
// OPT) if check lets it skip the steps above the cache, or reports false
// to send the query down the chain.
type WireCache interface {
	AppendWire(dst []byte, req *query.Request, check interface{ ServesWire([]dns.RR) bool }) ([]byte, bool)
}

// FastPath is the pipeline's hook for the common UDP queries — a plain
// standard query from an allowed client, either for a name a list blocks
// or for one whose answer is in the cache — answered straight from the
// packet to the wire, without building a dns.Msg or a goroutine. It is not
// a second implementation: it asks the guard (admit, sane), the policy
// (decide, record), the block encoder and the pipeline's done exactly as
// the chain does, and only skips unpacking. What it cannot answer that way
// it declines, and the chain answers. Under rate limiting it takes the
// client's token only once it is sure to answer, so that a query it
// declines takes its one token in the chain.
type FastPath struct {
	guard  *Guard
	policy *Policy
	cache  WireCache
}

// NewFastPath returns the fast path for a chain built from guard, policy
// and cache.
func NewFastPath(guard *Guard, policy *Policy, cache WireCache) *FastPath {
	if guard == nil || policy == nil || cache == nil {
		return nil
	}
	return &FastPath{guard: guard, policy: policy, cache: cache}
}

// maxWireName is the longest name on the wire, root label included.
const maxWireName = 255

// fastScratch is the per-query working memory of the fast path.
type fastScratch struct {
	buf   [dnswire.MaxNameLen + 1]byte
	msg   dns.Msg
	req   query.Request
	names nameArena
}

// nameArenaChunk is the size of a nameArena's chunks: a few hundred
// blocked names each.
const nameArenaChunk = 4 << 10

// nameArena copies the blocked names the block log and the block sink keep
// past a fast-path answer (the query name aliases the scratch buffer) into
// shared chunks, one allocation per few hundred blocks instead of one per
// block: a blocked flood then costs the collector as little as a cached
// one. A chunk is only ever appended to, never rewritten, so a name handed
// out stays valid; the chunk is freed when the last name in it is.
type nameArena struct{ buf []byte }

// clone returns a copy of s that outlives the caller's buffer.
func (a *nameArena) clone(s string) string {
	if len(s) == 0 {
		return ""
	}
	if cap(a.buf)-len(a.buf) < len(s) {
		a.buf = make([]byte, 0, max(nameArenaChunk, len(s)))
	}
	at := len(a.buf)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[at], len(s))
}

var scratchPool = sync.Pool{New: func() any { return new(fastScratch) }}

// quickQuery is what the fast path reads straight off the wire.
type quickQuery struct {
	id    uint16
	flags uint16
	shape
	qend int // offset just past the question
	edns bool
	do   bool
	size uint16 // the client's UDP size, at least 512
	name string // presentation form with trailing dot, lower case, aliasing a caller buffer
}

// parseQuick reads the only packet shape the fast path serves: a query
// (QR, TC clear) with one question for a name of plain labels, no answer
// or authority records, at most an OPT record in additional. name is
// written to buf; ok is false for anything else. What it reads is left to
// the guard to judge (opcode, class, type, EDNS version, name length).
func parseQuick(pkt []byte, buf *[dnswire.MaxNameLen + 1]byte) (q quickQuery, ok bool) {
	if len(pkt) < dnswire.HeaderLen+5 {
		return q, false
	}
	q.flags = dnswire.Flags(pkt)
	qd, an, ns, ar := dnswire.Counts(pkt)
	if q.flags&(dnswire.FlagQR|dnswire.FlagTC) != 0 || qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return q, false
	}
	q.id = dnswire.ID(pkt)
	q.opcode, q.qdcount, q.ednsVersion = dnswire.Opcode(q.flags), 1, -1
	off, n, ok := quickName(pkt, buf)
	if !ok || off+4 > len(pkt) {
		return q, false
	}
	q.nameLen = off - dnswire.HeaderLen
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	q.qclass = binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	q.qend = off
	q.size = dns.MinMsgSize
	if ar == 1 {
		opt, ok := dnswire.ParseOPT(pkt[off:])
		if !ok || off+opt.Len != len(pkt) {
			return q, false
		}
		q.edns, q.do, q.ednsVersion = true, opt.DO, int(opt.Version)
		q.size = max(opt.UDPSize, dns.MinMsgSize)
	} else if off != len(pkt) {
		return q, false
	}
	q.name = unsafe.String(&buf[0], n)
	return q, true
}

// quickName reads the question name: plain labels of LDH and underscore
// characters, lower-cased into buf, so that it needs no escaping and
// matches canonically. It returns the offset past the name and the
// length of its presentation form; the root is declined.
func quickName(pkt []byte, buf *[dnswire.MaxNameLen + 1]byte) (off, n int, ok bool) {
	off = dnswire.HeaderLen
	for {
		if off >= len(pkt) {
			return 0, 0, false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			return off, n, n > 0
		}
		// n+l+1 presentation octets are n+l+2 on the wire (the root
		// label): at most 255 (RFC 1035 §3.1); past it the chain
		// answers FORMERR.
		if l > 63 || off+l > len(pkt) || n+l+2 > maxWireName {
			return 0, 0, false
		}
		src, dst := pkt[off:off+l], buf[n:n+l]
		for j, c := range src {
			lc := plainOctet[c]
			if lc == 0 {
				return 0, 0, false
			}
			dst[j] = lc
		}
		n += l
		buf[n] = '.'
		n++
		off += l
	}
}

// plainOctet maps each octet of a plain label (letters, digits, hyphen,
// underscore) to its lower case and every other octet to 0: one load per
// octet where a switch of ranges was a chain of compares (quickName was
// 8% of a blocked query).
var plainOctet = func() (t [256]byte) {
	for c := range 256 {
		switch b := byte(c); {
		case 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
			t[c] = b
		case 'A' <= b && b <= 'Z':
			t[c] = b + 'a' - 'A'
		}
	}
	return t
}()

// answer appends the fast answer to pkt, read at start, to out, reporting false (with out
// unchanged) when the query must go down the chain.
func (f *FastPath) answer(p *Pipeline, pkt []byte, client netip.AddrPort, out []byte, start time.Time) ([]byte, bool) {
	// The name buffer and the request are handed to interfaces (the set,
	// the cache), so they would escape to the heap on every query; a pool
	// keeps the path allocation-free.
	sc := scratchPool.Get().(*fastScratch)
	defer scratchPool.Put(sc)
	q, ok := parseQuick(pkt, &sc.buf)
	// The ACL alone: a refusal, and the token, are the chain's (rate).
	if !ok || !f.guard.acl.allowed(client.Addr()) || f.guard.sane(q.shape) != pass {
		return out, false
	}
	ten, ok := p.tenants.fastTenant(client.Addr())
	if !ok {
		return out, false // a trusted forwarder's ECS may name the tenant: the chain reads it
	}
	if t := f.policy.tables.Load(); t != nil {
		if logOnlyLoaded(t) {
			return out, false
		}
		if d, blocked, _ := f.policy.decideQuery(t, client.Addr(), q.name, ten); blocked {
			if !localServable(d) {
				return out, false // local data: the chain answers (localdata.go)
			}
			return f.answerBlocked(p, sc, pkt, client, q, d, out, start)
		}
	}
	start0 := len(out)
	out, ok = f.appendCached(p, sc, pkt, client, q, out)
	if !ok || f.guard.rate(client.Addr(), query.ProtoUDP) != pass {
		return out[:start0], false
	}
	w := out[start0:]
	p.metrics.countQuery(query.ProtoUDP, q.qtype)
	_, an, _, _ := dnswire.Counts(w)
	p.done(start, client, query.ProtoUDP, pkt, w, outcome{qwire: pkt[dnswire.HeaderLen:q.qend], qtype: q.qtype,
		rcode: dnswire.Rcode(w), answers: int(an), tenant: ten})
	return out, true
}

// appendCached appends the cached answer to q, shaped as finish shapes
// the chain's answers: our header flags, the client's question (0x20
// letter case), our OPT if the client sent one.
func (f *FastPath) appendCached(p *Pipeline, sc *fastScratch, pkt []byte, client netip.AddrPort, q quickQuery, out []byte) ([]byte, bool) {
	sc.msg = dns.Msg{MsgHdr: dns.MsgHdr{Id: q.id, RecursionDesired: q.flags&dnswire.FlagRD != 0,
		CheckingDisabled: q.flags&dnswire.FlagCD != 0}}
	sc.req = query.Request{
		Msg:      &sc.msg,
		Question: dns.Question{Name: q.name, Qtype: q.qtype, Qclass: dns.ClassINET},
		Client:   client,
		Proto:    query.ProtoUDP,
		EDNS:     q.edns,
		DO:       q.do,
		UDPSize:  min(q.size, uint16(p.udpSize)),
	}
	start0 := len(out)
	out, ok := f.cache.AppendWire(out, &sc.req, f.policy)
	sc.req = query.Request{} // drop references before the scratch goes back
	if !ok || len(out)-start0 < dnswire.HeaderLen {
		return out, false
	}
	// The client's spelling of the name (q.name is lower case).
	copy(out[start0+dnswire.HeaderLen:], pkt[dnswire.HeaderLen:q.qend])
	// AppendWire checked that it fits the client's size.
	return shapeWire(out, start0, q.flags, q.edns, q.do, p.udpSize), true
}

// answerBlocked writes the block answer of decision d for q with the one
// block encoder, straight to the wire; it declines (false) only when the
// answer would not fit the client's UDP size, leaving truncation to the
// chain. A drop is handled with nothing appended.
func (f *FastPath) answerBlocked(p *Pipeline, sc *fastScratch, pkt []byte, client netip.AddrPort, q quickQuery, d query.Decision,
	out []byte, start time.Time) ([]byte, bool) {
	start0 := len(out)
	var w []byte
	if d.Match.Payload.Action != blocklist.ActionDrop {
		out = f.appendBlock(p, out, pkt, q, d)
		if w = out[start0:]; len(w) > min(int(q.size), p.udpSize) {
			return out[:start0], false
		}
	}
	if f.guard.rate(client.Addr(), query.ProtoUDP) != pass {
		return out[:start0], false // the chain answers over the rate
	}
	// Counted and logged only once the fast path is sure to answer.
	// q.name is lower case with its trailing dot, never the root.
	f.policy.record(start, client.Addr(), query.ProtoUDP, q.qtype, q.name[:len(q.name)-1], d, &sc.names)
	p.metrics.countQuery(query.ProtoUDP, q.qtype)
	o := outcome{qwire: pkt[dnswire.HeaderLen:q.qend], qtype: q.qtype, rcode: -1, decision: d, tenant: d.Tenant}
	if w != nil {
		_, an, _, _ := dnswire.Counts(w)
		o.rcode, o.answers = dnswire.Rcode(w), int(an)
	}
	p.done(start, client, query.ProtoUDP, pkt, w, o)
	return out, true
}

// appendBlock fills in the block encoder's input from the wire query. The
// SOA owner is the rule's name within the question: for the plain names
// the fast path serves, the rule's offset in the presentation name is its
// offset in the wire name too.
func (f *FastPath) appendBlock(p *Pipeline, out, pkt []byte, q quickQuery, d query.Decision) []byte {
	list := listOf(&d)
	owner := d.Match.Offset
	if owner >= q.nameLen-2 { // the root rule
		owner = -1
	}
	b := dnswire.Block{ID: q.id, Flags: q.flags, Question: pkt[dnswire.HeaderLen:q.qend], QType: q.qtype, Owner: owner,
		Action: d.Match.Payload.Action, Sinkhole: list.Sinkhole, TTL: f.policy.ttl,
		EDNS: q.edns, DO: q.do, UDPSize: uint16(p.udpSize), List: list.Name}
	return dnswire.AppendBlock(out, &b)
}
