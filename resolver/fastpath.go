package resolver

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// WireCache is the cache's zero-copy side: it appends a fresh cached answer
// to req in wire form (client's ID, RD bit and letter case; aged TTLs; no
// OPT), or reports false to send the query down the full chain.
type WireCache interface {
	AppendWire(dst []byte, req *Request) ([]byte, bool)
}

// FastPath answers the common UDP queries — a plain standard query from an
// allowed client, either for a name a list blocks or for one whose answer
// is in the cache — straight from the packet to the wire, without building
// a dns.Msg or a goroutine. It makes exactly the decisions the chain would
// (ACL, policy, cache), counts and logs the same, and hands everything else
// to the chain, so answers are the same either way; only the cost differs.
// Rate limiting, when configured, is left to the chain, and so are answers
// whose CNAME targets the policy must see.
type FastPath struct {
	guard    *Guard
	policy   *Policy
	cache    WireCache
	udpSize  int
	answered atomic.Uint64
}

// Answered is how many queries the fast path has answered, for metrics and
// for tests that must know which path answered.
func (f *FastPath) Answered() uint64 { return f.answered.Load() }

// NewFastPath returns the fast path for a chain built from guard, policy
// and cache. It is nil (no fast path) when the guard rate-limits, since a
// query must take one token, on one path.
func NewFastPath(guard *Guard, policy *Policy, cache WireCache) *FastPath {
	if guard == nil || policy == nil || cache == nil || guard.limiter != nil {
		return nil
	}
	return &FastPath{guard: guard, policy: policy, cache: cache}
}

// maxNameBuf holds any name in presentation form (255 wire octets).
const maxNameBuf = 256

// maxWireName is the longest name on the wire, root label included.
const maxWireName = 255

// fastScratch is the per-query working memory of the fast path.
type fastScratch struct {
	buf [maxNameBuf]byte
	msg dns.Msg
	req Request
}

var scratchPool = sync.Pool{New: func() any { return new(fastScratch) }}

// quickQuery is what the fast path reads straight off the wire.
type quickQuery struct {
	id      uint16
	rd, cd  bool
	qtype   uint16
	qend    int // offset just past the question
	edns    bool
	do      bool
	udpSize uint16
	name    string // presentation form with trailing dot, aliasing a caller buffer
}

// parseQuick parses the only packet shape the fast path serves: a standard
// query, one question of class IN for an ordinary name, no answer or
// authority records, at most an OPT (version 0) in additional. name is
// written to buf; ok is false for anything else.
func parseQuick(pkt []byte, buf *[maxNameBuf]byte) (q quickQuery, ok bool) {
	if len(pkt) < 12+5 {
		return q, false
	}
	flags := binary.BigEndian.Uint16(pkt[2:])
	// QR=0, opcode QUERY, TC=0 (AA, Z bits ignored as the chain does).
	if flags&0x8000 != 0 || flags&0x7800 != 0 || flags&0x0200 != 0 {
		return q, false
	}
	if binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 || binary.BigEndian.Uint16(pkt[8:]) != 0 {
		return q, false
	}
	arcount := binary.BigEndian.Uint16(pkt[10:])
	if arcount > 1 {
		return q, false
	}
	q.id = binary.BigEndian.Uint16(pkt)
	q.rd = flags&0x0100 != 0
	q.cd = flags&0x0010 != 0
	// The name: plain labels of LDH and underscore characters, lower-cased
	// into buf, so that it needs no escaping and matches canonically.
	off, n := 12, 0
	for {
		if off >= len(pkt) {
			return q, false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		// n+l+1 presentation octets are n+l+2 on the wire (the root
		// label): at most 255 (RFC 1035 §3.1); past it the chain
		// answers FORMERR.
		if l > 63 || off+l > len(pkt) || n+l+2 > maxWireName {
			return q, false
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				return q, false
			}
			buf[n] = c
			n++
		}
		buf[n] = '.'
		n++
		off += l
	}
	if n == 0 || off+4 > len(pkt) {
		return q, false // the root, or a short question
	}
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != dns.ClassINET {
		return q, false
	}
	switch q.qtype {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return q, false
	}
	off += 4
	q.qend = off
	q.udpSize = dns.MinMsgSize
	if arcount == 1 {
		// The OPT pseudo-RR: root owner, type 41, class = UDP size,
		// TTL = ext-rcode, version, DO; its options are ignored, as the
		// chain ignores them.
		if off+11 > len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != dns.TypeOPT {
			return q, false
		}
		if pkt[off+6] != 0 { // EDNS version: BADVERS is the chain's job
			return q, false
		}
		if rdlen := int(binary.BigEndian.Uint16(pkt[off+9:])); off+11+rdlen != len(pkt) {
			return q, false
		}
		q.edns = true
		q.do = pkt[off+7]&0x80 != 0
		if sz := binary.BigEndian.Uint16(pkt[off+3:]); sz > dns.MinMsgSize {
			q.udpSize = sz
		}
	} else if off != len(pkt) {
		return q, false
	}
	q.name = unsafe.String(&buf[0], n)
	return q, true
}

// answer appends the fast answer to pkt to out, reporting false (with out
// unchanged) when the query must go down the chain.
func (f *FastPath) answer(pkt []byte, client netip.AddrPort, out []byte, m *Metrics, obs *observerBox) ([]byte, bool) {
	start := time.Now()
	// The name buffer and the request are handed to interfaces (the set,
	// the cache), so they would escape to the heap on every query; a pool
	// keeps the path allocation-free.
	sc := scratchPool.Get().(*fastScratch)
	defer scratchPool.Put(sc)
	q, ok := parseQuick(pkt, &sc.buf)
	if !ok || !f.guard.acl.allowed(client.Addr()) {
		return out, false
	}
	if t := f.policy.tables.Load(); t != nil {
		if mt, ok := t.Set.Match(q.name); ok && !mt.Allow {
			return f.answerBlocked(pkt, client, q, t, mt, out, m, obs, start)
		}
	}
	size := q.udpSize
	if int(size) > f.udpSize {
		size = uint16(f.udpSize)
	}
	sc.msg = dns.Msg{MsgHdr: dns.MsgHdr{Id: q.id, RecursionDesired: q.rd, CheckingDisabled: q.cd}}
	sc.req = Request{
		Msg:      &sc.msg,
		Question: dns.Question{Name: q.name, Qtype: q.qtype, Qclass: dns.ClassINET},
		Client:   client,
		Proto:    ProtoUDP,
		EDNS:     q.edns,
		DO:       q.do,
		UDPSize:  size,
	}
	start0 := len(out)
	out, ok = f.cache.AppendWire(out, &sc.req)
	sc.req = Request{} // drop references before the scratch goes back
	if !ok {
		return out[:start0], false
	}
	w := out[start0:]
	if len(w) < 12 {
		return out[:start0], false
	}
	// Header as finish() shapes it: QR, RA set; AA, TC clear; CD echoed.
	w[2] = w[2]&^0x06 | 0x80 // QR=1, AA=0, TC=0 (opcode 0, RD kept)
	w[3] = w[3]&^0x10 | 0x80 // RA=1, CD cleared then echoed
	if q.cd {
		w[3] |= 0x10
	}
	// The question exactly as the client wrote it (0x20 letter case).
	copy(w[12:], pkt[12:q.qend])
	if q.edns {
		// Our OPT: root, type 41, our UDP size, ext-rcode 0, version 0, DO.
		var do byte
		if q.do {
			do = 0x80
		}
		out = append(out, 0, 0, 41, byte(f.udpSize>>8), byte(f.udpSize), 0, 0, do, 0, 0, 0)
		w = out[start0:]
		binary.BigEndian.PutUint16(w[10:], binary.BigEndian.Uint16(w[10:])+1)
	}
	f.answered.Add(1)
	m.countQuery(ProtoUDP, q.qtype)
	took := time.Since(start)
	m.countResponse(int(w[3]&0x0F), took.Seconds())
	if obs != nil {
		// Observers may keep the name, so it gets its own string here (in
		// the client's letter case, as the chain reports it).
		obs.o.Observe(QueryEvent{
			Received: start, Duration: took, Client: client, Proto: ProtoUDP,
			Query: pkt, Response: w, QName: questionName(pkt[12 : q.qend-4]), QType: q.qtype,
			Rcode: int(w[3] & 0x0F), Answers: int(binary.BigEndian.Uint16(w[6:])),
		})
	}
	return out, true
}

// answerBlocked writes the block answer of rule mt for q, as blockAnswer
// would build it, straight to the wire; it declines (false) only when the
// answer would not fit the client's UDP size, leaving truncation to the
// chain. A drop is handled with nothing appended.
func (f *FastPath) answerBlocked(pkt []byte, client netip.AddrPort, q quickQuery, t *blocklist.Table, mt blocklist.Match,
	out []byte, m *Metrics, obs *observerBox, start time.Time) ([]byte, bool) {
	action := mt.Payload.Action
	start0 := len(out)
	rcode := -1
	if action != blocklist.ActionDrop {
		var ok bool
		if out, ok = f.appendBlock(out, pkt, q, t, mt); !ok {
			return out[:start0], false
		}
		rcode = int(out[start0+3] & 0x0F)
	}
	// Counted and logged only once the fast path is sure to answer.
	rec := blockRecord{at: start, client: client.Addr(), proto: ProtoUDP, qtype: q.qtype, table: t, match: mt}
	if f.policy.log.enabled() {
		rec.qname = strings.Clone(q.name[:len(q.name)-1])
	}
	f.policy.count(rec)
	f.answered.Add(1)
	m.countQuery(ProtoUDP, q.qtype)
	took := time.Since(start)
	w := out[start0:]
	if rcode < 0 {
		m.countDropped(took.Seconds())
		w = nil
	} else {
		m.countResponse(rcode, took.Seconds())
	}
	if obs != nil {
		ev := QueryEvent{Received: start, Duration: took, Client: client, Proto: ProtoUDP,
			Query: pkt, Response: w, QName: questionName(pkt[12 : q.qend-4]), QType: q.qtype, Rcode: rcode}
		if w != nil {
			ev.Answers = int(binary.BigEndian.Uint16(w[6:]))
		}
		obs.o.Observe(ev)
	}
	return out, true
}

// Wire constants of block answers: the SOA's names and timers, as
// blockSOA writes them.
const (
	soaMname = "\x07bulwark\x07invalid\x00"
	soaRname = "\x0ahostmaster" // + a pointer to soaMname
)

// appendBlock appends the answer blockAnswer gives for action, in wire
// form: the client's header and question, A/AAAA records for null and
// sinkhole, the SOA of negative answers (owned by the rule's name, which
// is a suffix of the question's, so it is a compression pointer into it),
// and the client's OPT with EDE 15 naming the list.
func (f *FastPath) appendBlock(out, pkt []byte, q quickQuery, t *blocklist.Table, mt blocklist.Match) ([]byte, bool) {
	action := mt.Payload.Action
	list := listOf(t, mt)
	ttl := f.policy.ttl
	start0 := len(out)
	var flags1 byte = 0x80 // QR
	if q.rd {
		flags1 |= 0x01
	}
	var flags2 byte = 0x80 // RA
	if q.cd {
		flags2 |= 0x10
	}
	switch action {
	case blocklist.ActionRefused:
		flags2 |= dns.RcodeRefused
	case blocklist.ActionNXDomain, blocklist.ActionNoData, blocklist.ActionNull, blocklist.ActionSinkhole:
		if action == blocklist.ActionNXDomain {
			flags2 |= dns.RcodeNameError
		}
	default:
		flags2 |= dns.RcodeNameError // as blockAnswer's default
	}
	out = append(out, byte(q.id>>8), byte(q.id), flags1, flags2, 0, 1, 0, 0, 0, 0, 0, 0)
	out = append(out, pkt[12:q.qend]...)
	var an int
	if action == blocklist.ActionNull || action == blocklist.ActionSinkhole {
		addrs := list.Sinkhole
		if action == blocklist.ActionNull {
			addrs = nullAddrs[:]
		}
		for _, a := range addrs {
			a = a.Unmap()
			var rrtype uint16
			switch {
			case q.qtype == dns.TypeA && a.Is4():
				rrtype = dns.TypeA
			case q.qtype == dns.TypeAAAA && a.Is6():
				rrtype = dns.TypeAAAA
			default:
				continue
			}
			out = append(out, 0xC0, 12, byte(rrtype>>8), byte(rrtype), 0, 1)
			out = binary.BigEndian.AppendUint32(out, ttl)
			out = binary.BigEndian.AppendUint16(out, uint16(a.BitLen()/8))
			out = append(out, a.AsSlice()...)
			an++
		}
	}
	var ns int
	if action == blocklist.ActionNXDomain || action == blocklist.ActionNoData || an == 0 && action != blocklist.ActionRefused {
		// Owner: the rule's name within the question (the root is a
		// zero byte), as blockSOA picks it.
		qlen := q.qend - 4 - 12 // wire length of the question name
		if off := 12 + mt.Offset; mt.Offset < qlen-2 {
			out = append(out, 0xC0|byte(off>>8), byte(off))
		} else {
			out = append(out, 0)
		}
		out = append(out, 0, byte(dns.TypeSOA), 0, 1)
		out = binary.BigEndian.AppendUint32(out, ttl)
		rdlenAt := len(out)
		out = append(out, 0, 0)
		mname := len(out) - start0
		out = append(out, soaMname...)
		out = append(out, soaRname...)
		out = append(out, 0xC0|byte(mname>>8), byte(mname))
		for _, v := range [...]uint32{1, 3600, 600, 86400, ttl} {
			out = binary.BigEndian.AppendUint32(out, v)
		}
		binary.BigEndian.PutUint16(out[rdlenAt:], uint16(len(out)-rdlenAt-2))
		ns = 1
	}
	var ar int
	if q.edns {
		var do byte
		if q.do {
			do = 0x80
		}
		text := len("blocked by list ") + len(list.Name)
		out = append(out, 0, 0, 41, byte(f.udpSize>>8), byte(f.udpSize), 0, 0, do, 0)
		out = binary.BigEndian.AppendUint16(out, uint16(4+2+text))
		out = append(out, 0, byte(dns.EDNS0EDE))
		out = binary.BigEndian.AppendUint16(out, uint16(2+text))
		out = binary.BigEndian.AppendUint16(out, dns.ExtendedErrorCodeBlocked)
		out = append(out, "blocked by list "...)
		out = append(out, list.Name...)
		ar = 1
	}
	w := out[start0:]
	binary.BigEndian.PutUint16(w[6:], uint16(an))
	binary.BigEndian.PutUint16(w[8:], uint16(ns))
	binary.BigEndian.PutUint16(w[10:], uint16(ar))
	limit := int(q.udpSize)
	if limit > f.udpSize {
		limit = f.udpSize
	}
	return out, len(w) <= limit && len(w) <= dns.MaxMsgSize
}

// questionName renders the uncompressed wire name parseQuick accepted
// (plain labels only) in presentation form, letter case kept.
func questionName(wire []byte) string {
	b := make([]byte, 0, len(wire))
	for i := 0; i < len(wire) && wire[i] != 0; i += 1 + int(wire[i]) {
		b = append(b, wire[i+1:i+1+int(wire[i])]...)
		b = append(b, '.')
	}
	return string(b)
}
