package cache

import (
	"encoding/binary"
	"net"
	"strings"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// staleTTL is the TTL of stale answers, as RFC 8767 §4 recommends.
const staleTTL = 30

// shape says how a hit decodes an entry. Most answers are one or two A or
// AAAA records for the question's name; those are built straight from the
// wire in one allocation. Everything else is unpacked by miekg/dns.
type shape uint8

const (
	shapeAny   shape = iota
	shapeA           // 1..inlineRRs answers, all A for the question's name, nothing else
	shapeAAAA        // likewise AAAA
	shapeChain       // 1..chainRRs answers, CNAME, A and AAAA only, nothing else
)

// chainRRs is how many records a shapeChain answer may have.
const chainRRs = 4

// inlineRRs is how many records of a common shape live inside the one
// allocation of a hit.
const inlineRRs = 2

// shapeOf classifies a body for response.
func shapeOf(body []byte) shape {
	w := bodyWire(body)
	an := int(binary.BigEndian.Uint16(w[6:]))
	if an == 0 || an > chainRRs || bodyRecords(body) != an || binary.BigEndian.Uint16(w[4:]) != 1 {
		return shapeAny
	}
	var s shape
	simple := an <= inlineRRs
	for i := range an {
		// TYPE, CLASS, TTL, RDLENGTH: the TTL is 4 bytes in.
		off := bodyTTLOffset(body, i) - 4
		if binary.BigEndian.Uint16(w[off+2:]) != dns.ClassINET {
			return shapeAny
		}
		// A simple answer's owner is a pointer to the question.
		simple = simple && off >= 14 && binary.BigEndian.Uint16(w[off-2:]) == 0xc00c
		var t shape
		switch rtype, rdlen := binary.BigEndian.Uint16(w[off:]), binary.BigEndian.Uint16(w[off+8:]); {
		case rtype == dns.TypeA && rdlen == net.IPv4len:
			t = shapeA
		case rtype == dns.TypeAAAA && rdlen == net.IPv6len:
			t = shapeAAAA
		case rtype == dns.TypeCNAME:
			t, simple = shapeChain, false
		default:
			return shapeAny
		}
		if i > 0 && t != s {
			simple = false
		}
		s = t
	}
	if !simple {
		return shapeChain
	}
	return s
}

// respBlock lets a hit allocate the message, its question and the section
// slice of a small answer in one go.
type respBlock struct {
	m  dns.Msg
	q  [1]dns.Question
	rr [inlineRRs]dns.RR
}

// blockOf adds room for the records themselves and their addresses.
type blockOf[T any] struct {
	respBlock
	v  [inlineRRs]T
	ip [inlineRRs][net.IPv6len]byte
}

// response decodes the answer to req that body holds, every TTL aged by age
// seconds or, when stale, set to staleTTL: exactly what AppendWire would
// send, as a message that is the caller's. body is only read, so it may be
// the store's own bytes under the shard lock. It returns nil if the body
// does not decode, which newEntry's check at store time rules out.
func response(m *meta, body []byte, req *contract.Request, age uint32, stale bool) *dns.Msg {
	msg := decodeBody(m, body, req, age, stale)
	if msg == nil || !m.ede {
		return msg
	}
	opt := edeOption(bodyEDE(body))
	if opt == nil {
		return nil
	}
	// A fresh OPT carrying only the EDEs; the responder sets the rest.
	msg.Extra = append(msg.Extra[:len(msg.Extra):len(msg.Extra)], opt)
	return msg
}

// decodeBody is response without the EDE options.
func decodeBody(m *meta, body []byte, req *contract.Request, age uint32, stale bool) *dns.Msg {
	switch m.shape {
	case shapeA:
		return responseOf[dns.A](body, req, age, stale, func(r *dns.A, ip []byte) { r.A = net.IP(ip[:net.IPv4len]) })
	case shapeAAAA:
		return responseOf[dns.AAAA](body, req, age, stale, func(r *dns.AAAA, ip []byte) { r.AAAA = net.IP(ip) })
	case shapeChain:
		if m := responseChain(body, req, age, stale); m != nil {
			return m
		}
	}
	msg := new(dns.Msg)
	if msg.Unpack(appendAnswer(nil, body, req, age, stale)) != nil || len(msg.Question) != 1 {
		return nil
	}
	msg.Question[0] = req.Question
	msg.Compress = true
	return msg
}

// responseOf builds a shapeA or shapeAAAA answer from the wire without
// unpacking it; set points the record at its address.
func responseOf[T any, P interface {
	*T
	dns.RR
}](body []byte, req *contract.Request, age uint32, stale bool, set func(P, []byte)) *dns.Msg {
	w := bodyWire(body)
	b := new(blockOf[T])
	b.init(w, req)
	n := bodyRecords(body)
	for i := range n {
		off := bodyTTLOffset(body, i)
		t := servedTTL(binary.BigEndian.Uint32(w[off:]), age, stale)
		p := P(&b.v[i])
		*p.Header() = dns.RR_Header{Name: req.Question.Name, Rrtype: binary.BigEndian.Uint16(w[off-4:]),
			Class: dns.ClassINET, Ttl: t, Rdlength: binary.BigEndian.Uint16(w[off+4:])}
		rd := w[off+6 : off+6+int(p.Header().Rdlength)]
		copy(b.ip[i][:], rd)
		set(p, b.ip[i][:len(rd)])
		b.rr[i] = p
	}
	b.m.Answer = b.rr[:n:n]
	return &b.m
}

// init fills in the header from w, with the client's ID and RD, and the
// client's question.
func (b *respBlock) init(w []byte, req *contract.Request) {
	b.m.MsgHdr = header(w)
	if req.Msg != nil {
		b.m.Id = req.Msg.Id
		b.m.RecursionDesired = req.Msg.RecursionDesired
	}
	b.m.Compress = true
	b.q[0] = req.Question
	b.m.Question = b.q[:]
}

// servedTTL is the TTL a record stored with TTL stored is served with.
func servedTTL(stored, age uint32, stale bool) uint32 {
	if stale {
		return staleTTL
	}
	return stored - min(age, stored)
}

// header decodes the header of w (at least 12 bytes), as dns.Msg.Unpack
// does for a message without OPT.
func header(w []byte) dns.MsgHdr {
	f := binary.BigEndian.Uint16(w[2:])
	return dns.MsgHdr{
		Id:                 binary.BigEndian.Uint16(w),
		Response:           f&(1<<15) != 0,
		Opcode:             int(f>>11) & 0xf,
		Authoritative:      f&(1<<10) != 0,
		Truncated:          f&(1<<9) != 0,
		RecursionDesired:   f&(1<<8) != 0,
		RecursionAvailable: f&(1<<7) != 0,
		Zero:               f&(1<<6) != 0,
		AuthenticatedData:  f&(1<<5) != 0,
		CheckingDisabled:   f&(1<<4) != 0,
		Rcode:              int(f & 0xf),
	}
}

// chainBlock is the one allocation of a shapeChain answer, besides the
// strings of the names other than the question's.
type chainBlock struct {
	respBlock
	all   [chainRRs]dns.RR
	cname [chainRRs]dns.CNAME
	a     [chainRRs]dns.A
	aaaa  [chainRRs]dns.AAAA
	ip    [chainRRs][net.IPv6len]byte
}

// responseChain builds a shapeChain answer (a CNAME chain and its
// addresses) from the wire without unpacking it, or returns nil when a name
// needs the full decoder.
func responseChain(body []byte, req *contract.Request, age uint32, stale bool) *dns.Msg {
	w := bodyWire(body)
	b := new(chainBlock)
	b.init(w, req)
	qend, ok := skipName(w, 12)
	if !ok || !dns.IsFqdn(req.Question.Name) || strings.IndexByte(req.Question.Name, '\\') >= 0 {
		return nil
	}
	names := nameMemo{qname: req.Question.Name, qend: qend}
	n := bodyRecords(body)
	rrs := b.all[:0]
	for i := range n {
		off := bodyTTLOffset(body, i)
		t := servedTTL(binary.BigEndian.Uint32(w[off:]), age, stale)
		owner, ok := names.at(w, ownerOffset(w, off, n))
		if !ok {
			return nil
		}
		h := dns.RR_Header{Name: owner, Rrtype: binary.BigEndian.Uint16(w[off-4:]), Class: dns.ClassINET,
			Ttl: t, Rdlength: binary.BigEndian.Uint16(w[off+4:])}
		rd := off + 6
		switch h.Rrtype {
		case dns.TypeCNAME:
			target, ok := names.at(w, rd)
			if !ok {
				return nil
			}
			b.cname[i] = dns.CNAME{Hdr: h, Target: target}
			rrs = append(rrs, &b.cname[i])
		case dns.TypeA:
			copy(b.ip[i][:], w[rd:rd+net.IPv4len])
			b.a[i] = dns.A{Hdr: h, A: net.IP(b.ip[i][:net.IPv4len])}
			rrs = append(rrs, &b.a[i])
		case dns.TypeAAAA:
			copy(b.ip[i][:], w[rd:rd+net.IPv6len])
			b.aaaa[i] = dns.AAAA{Hdr: h, AAAA: net.IP(b.ip[i][:])}
			rrs = append(rrs, &b.aaaa[i])
		}
	}
	b.m.Answer = rrs[:n:n]
	return &b.m
}

// ownerOffset is where the owner name of the record whose TTL field is at
// ttl begins, among the first n records of w, or -1. Bodies keep only TTL
// offsets and owner names vary in length, so it walks the records; a chain
// has at most chainRRs of them.
func ownerOffset(w []byte, ttl, n int) int {
	off, ok := skipName(w, 12)
	off += 4 // QTYPE, QCLASS
	for range n {
		end, ok2 := skipName(w, off)
		if !ok || !ok2 || end+10 > len(w) {
			return -1
		}
		if end+4 == ttl {
			return off
		}
		off = end + 10 + int(binary.BigEndian.Uint16(w[end+8:]))
	}
	return -1
}

// nameMemo decodes the names of one answer, each distinct name once: a
// CNAME's target is usually the next record's owner, compressed to a
// pointer to it.
type nameMemo struct {
	qname string // the client's spelling of the question's name
	qend  int    // where the question's name ends in the wire
	n     int
	offs  [2 * chainRRs]int
	strs  [2 * chainRRs]string
}

// at returns the name at off in w, or false when it takes more than this
// decoder does (the caller then unpacks the whole message).
func (nm *nameMemo) at(w []byte, off int) (string, bool) {
	if off < 0 || off+1 >= len(w) {
		return "", false
	}
	if w[off]&0xc0 == 0xc0 {
		off = int(binary.BigEndian.Uint16(w[off:]) & 0x3fff)
	}
	for i := range nm.n {
		if nm.offs[i] == off {
			return nm.strs[i], true
		}
	}
	s, ok := nm.decode(w, off)
	if ok && nm.n < len(nm.offs) {
		nm.offs[nm.n], nm.strs[nm.n] = off, s
		nm.n++
	}
	return s, ok
}

// decode reads the name at off the way the client reads it once
// appendAnswer has written its spelling of the question over the stored
// one: a pointer into the question's name continues with the client's
// letters. It handles names without escapes (qname has none: the caller
// checks), which is all but never otherwise.
func (nm *nameMemo) decode(w []byte, off int) (string, bool) {
	var buf [256]byte
	n := 0
	for range 128 { // a name has at most 127 labels
		if off >= 12 && off < nm.qend {
			i := off - 12 // without escapes, wire and text offsets agree
			if i > len(nm.qname) || (i > 0 && nm.qname[i-1] != '.') || n+len(nm.qname)-i > len(buf) {
				return "", false
			}
			if n == 0 {
				return nm.qname[i:], true
			}
			n += copy(buf[n:], nm.qname[i:])
			return string(buf[:n]), true
		}
		if off >= len(w) {
			return "", false
		}
		switch b := int(w[off]); {
		case b == 0:
			if n == 0 {
				return ".", true
			}
			return string(buf[:n]), true
		case b&0xc0 == 0xc0:
			if off+1 >= len(w) {
				return "", false
			}
			p := int(binary.BigEndian.Uint16(w[off:]) & 0x3fff)
			if p >= off {
				return "", false // only backward pointers: no loops
			}
			off = p
		case b&0xc0 != 0 || off+1+b > len(w) || n+b+1 > 255:
			return "", false
		default:
			for _, c := range w[off+1 : off+1+b] {
				if !plainChar(c) {
					return "", false
				}
			}
			n += copy(buf[n:], w[off+1:off+1+b])
			buf[n] = '.'
			n++
			off += 1 + b
		}
	}
	return "", false
}

// plainChar reports whether miekg/dns prints c in a name as itself.
func plainChar(c byte) bool {
	switch c {
	case '.', ' ', '\'', '@', ';', '(', ')', '"', '\\':
		return false
	}
	return c > ' ' && c < 0x7f
}
