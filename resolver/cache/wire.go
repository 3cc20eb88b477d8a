package cache

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// newBody lays out the body for wire, an answer without OPT, and ede: the
// wire copied with ID 0, each record's TTL field holding the stored TTL
// ttl gives it (from the record and its TTL as received), the fields'
// offsets listed after it, so that a hit is a copy and a few patched
// words. life is the smallest stored TTL (^0 without records); false if
// wire is not shaped like a message or too large.
func newBody(wire, ede []byte, ttl func(r dnswire.RR, t uint32) uint32) (body []byte, life uint32, ok bool) {
	if len(wire) < dnswire.HeaderLen || len(wire) > 0xffff || len(ede) > 0xffff {
		return nil, 0, false
	}
	_, an, ns, ar := dnswire.Counts(wire)
	n := int(an) + int(ns) + int(ar)
	if n > len(wire) {
		return nil, 0, false
	}
	b := make([]byte, bodyHeader+len(wire)+2*n, bodyHeader+len(wire)+2*n+len(ede))
	binary.BigEndian.PutUint16(b, uint16(len(wire)))
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	binary.BigEndian.PutUint16(b[4:], uint16(len(ede)))
	w := b[bodyHeader : bodyHeader+len(wire)]
	copy(w, wire)
	dnswire.SetID(w, 0)
	offs := b[bodyHeader+len(wire):]
	life, i := ^uint32(0), 0
	end, ok := dnswire.Walk(w, func(r dnswire.RR) bool {
		t := ttl(r, binary.BigEndian.Uint32(w[r.TTL:]))
		binary.BigEndian.PutUint32(w[r.TTL:], t)
		binary.BigEndian.PutUint16(offs[2*i:], uint16(r.TTL))
		life = min(life, t)
		i++
		return true
	})
	if !ok || end != len(w) || i != n {
		return nil, 0, false
	}
	return append(b, ede...), life, true
}

// ttlOffsets walks a packed message and returns the offset of every RR's
// TTL field, in section order.
func ttlOffsets(w []byte) ([]uint16, bool) {
	if len(w) > 0xffff {
		return nil, false
	}
	var offs []uint16
	end, ok := dnswire.Walk(w, func(r dnswire.RR) bool {
		offs = append(offs, uint16(r.TTL))
		return true
	})
	return offs, ok && end == len(w)
}

// skipName returns the offset just past the (possibly compressed) name at off.
func skipName(w []byte, off int) (int, bool) { return dnswire.SkipName(w, off) }

// appendAnswer appends to dst the answer body holds, as req's client gets
// it: ID, RD and the question's letter case the client's, every TTL aged
// by age seconds or, when stale, set to staleTTL. dst must not alias body.
func appendAnswer(dst, body []byte, req *contract.Request, age uint32, stale bool) []byte {
	start := len(dst)
	dst = append(dst, bodyWire(body)...)
	w := dst[start:]
	for i := range bodyRecords(body) {
		off := bodyTTLOffset(body, i)
		binary.BigEndian.PutUint32(w[off:], servedTTL(binary.BigEndian.Uint32(w[off:]), age, stale))
	}
	if req.Msg != nil {
		binary.BigEndian.PutUint16(w, req.Msg.Id)
		w[2] &^= 1 // RD
		if req.Msg.RecursionDesired {
			w[2] |= 1
		}
	}
	setQname(w, req.Question.Name)
	return dst
}

// AppendWire appends to dst a fresh cached answer to req in wire form — the
// zero-copy path for UDP listeners: ID, RD and the question's letter case
// are the client's and TTLs are aged, but there is no OPT record (append
// the client's and bump ARCOUNT) and no truncation. It reports false, with
// dst unchanged and nothing counted, when there is no fresh entry, the
// answer carries EDE options (the wire form has no OPT for them), or it
// would not fit the client's UDP size (with an 11-byte OPT if EDNS); the
// caller then goes through Resolve. check decides which answers may skip
// the steps above the cache (the policy: CNAME cloaking); it is given the
// answer's CNAME and DNAME records, decoded only for the answers that hold
// some, so that the common answer costs nothing; an AddrCheck is also asked
// about the answer's addresses. A nil check serves none.
func (c *Cache) AppendWire(dst []byte, req *contract.Request, check interface{ ServesWire([]dns.RR) bool }) ([]byte, bool) {
	if c.store == nil || req.Msg == nil || check == nil {
		return dst, false
	}
	now := c.clk.Now().UnixNano()
	k := c.key(req)
	sh, i := c.store.lookup(k)
	if i < 0 {
		sh.mu.Unlock()
		return dst, false
	}
	s := sh.at(i)
	body := sh.body(i)
	size := len(bodyWire(body))
	if req.EDNS {
		size += 11
	}
	if s.ede || s.expired(now) || req.Proto == contract.ProtoUDP && size > int(req.UDPSize) || !servesWire(check, &s.meta, body) {
		sh.mu.Unlock()
		return dst, false
	}
	dst = appendAnswer(dst, body, req, s.age(now), false)
	pf, m := c.touch(s, k, now)
	sh.mu.Unlock()
	c.hit(pf, m, k, req)
	return dst, true
}

// servesWire asks check about the answer body holds, giving it the
// answer's CNAME and DNAME records: none, without decoding anything, for an
// answer that has none. An answer with aliases that does not decode is not
// served here. A check that is an AddrCheck reporting ChecksAddrs is also
// asked about each A/AAAA address of the answer, read from the wire form
// (no decoding, no allocation).
func servesWire(check interface{ ServesWire([]dns.RR) bool }, m *meta, body []byte) bool {
	if !m.alias {
		if !check.ServesWire(nil) {
			return false
		}
	} else if !servesAliases(check, body) {
		return false
	}
	if a, ok := check.(AddrCheck); ok && a.ChecksAddrs() {
		return servesAddrs(a, body)
	}
	return true
}

// wireServes reports whether the answer body holds goes to req's client in
// wire form (contract.WireAnswer): the steps above have said which answers
// may skip them (Check), and this one may — asked as AppendWire asks. An
// answer with EDE options (the wire form has no OPT for them) or with a
// CNAME or DNAME (the policy decides on its targets, decoded) is decoded.
func wireServes(req *contract.Request, m *meta, body []byte) bool {
	w := req.Wire
	return w != nil && w.Check != nil && !m.ede && !m.alias && servesWire(w.Check, m, body)
}

// serveWire appends the answer body holds to req.Wire.Buf, aged by age
// seconds or stale, if wireServes lets it, reporting whether it did: then
// the step returns no message and the responder sends the wire.
func serveWire(req *contract.Request, m *meta, body []byte, age uint32, stale bool) bool {
	if !wireServes(req, m, body) {
		return false
	}
	req.Wire.Buf = appendAnswer(req.Wire.Buf, body, req, age, stale)
	req.Wire.Served = true
	return true
}

// AddrCheck is what a check passed to AppendWire implements when answers'
// addresses decide too (the policy's rpz-ip rules).
type AddrCheck interface {
	// ChecksAddrs reports whether ServesAddr must be asked now.
	ChecksAddrs() bool
	// ServesAddr reports whether an answer holding a may be served
	// without the steps above the cache.
	ServesAddr(a netip.Addr) bool
}

// AliasCheck is what a check passed to AppendWire implements when it can
// say without the records that it serves no answer holding a CNAME or
// DNAME (the policy, which decides on their targets on every answer):
// such answers are then not decoded only to be refused.
type AliasCheck interface {
	ServesAliases() bool
}

// servesAliases decodes the answer and gives check its CNAME and DNAME
// records, unless check refuses them all (AliasCheck).
func servesAliases(check interface{ ServesWire([]dns.RR) bool }, body []byte) bool {
	if a, ok := check.(AliasCheck); ok && !a.ServesAliases() {
		return false
	}
	m := new(dns.Msg)
	if m.Unpack(bodyWire(body)) != nil {
		return false
	}
	var alias []dns.RR
	for _, rr := range m.Answer {
		if t := rr.Header().Rrtype; t == dns.TypeCNAME || t == dns.TypeDNAME {
			alias = append(alias, rr)
		}
	}
	return check.ServesWire(alias)
}

// servesAddrs asks a about every A and AAAA record of the answer body
// holds, found by the stored TTL offsets: type and class precede the TTL,
// RDLENGTH and RDATA follow it.
func servesAddrs(a AddrCheck, body []byte) bool {
	w := bodyWire(body)
	an := int(binary.BigEndian.Uint16(w[6:]))
	offs := body[bodyHeader+len(w):]
	for i := 0; i < an && 2*i+2 <= len(offs); i++ {
		to := int(binary.BigEndian.Uint16(offs[2*i:]))
		if to < 4 || to+6 > len(w) {
			return false
		}
		n := int(binary.BigEndian.Uint16(w[to+4:]))
		rdata := w[to+6:]
		if n > len(rdata) {
			return false
		}
		var addr netip.Addr
		switch binary.BigEndian.Uint16(w[to-4:]) {
		case dns.TypeA:
			if n != 4 {
				continue
			}
			addr = netip.AddrFrom4([4]byte(rdata[:4]))
		case dns.TypeAAAA:
			if n != 16 {
				continue
			}
			addr = netip.AddrFrom16([16]byte(rdata[:16])).Unmap()
		default:
			continue
		}
		if !a.ServesAddr(addr) {
			return false
		}
	}
	return true
}

// setQname writes name over the question name of w, which differs from it
// only in letter case: clients using 0x20 randomisation expect theirs back.
// A name without escapes is copied label by label; one with escapes is
// packed first. A name of another shape leaves w unchanged.
func setQname(w []byte, name string) {
	if strings.IndexByte(name, '\\') >= 0 {
		var buf [256]byte
		n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
		if end, ok := skipName(w, 12); ok && err == nil && end-12 == n {
			copy(w[12:], buf[:n])
		}
		return
	}
	off, i := 12, 0
	for off < len(w) && w[off] != 0 {
		n := int(w[off])
		if n >= 0x40 || off+1+n > len(w) || i+n > len(name) || (i+n < len(name) && name[i+n] != '.') {
			return
		}
		off, i = off+1+n, i+n+1
	}
	if off >= len(w) || (i != len(name) && !(i == 0 && name == ".")) {
		return
	}
	off, i = 12, 0
	for w[off] != 0 {
		n := int(w[off])
		copy(w[off+1:off+1+n], name[i:i+n])
		off, i = off+1+n, i+n+1
	}
}
