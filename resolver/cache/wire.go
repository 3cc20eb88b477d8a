package cache

import (
	"encoding/binary"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// packWire packs m once at store time and finds each RR's TTL field, so
// AppendWire can answer with a copy and a few patched words; (nil, nil) if m
// does not pack or the layout is not what was expected.
func packWire(m *dns.Msg, nrr int) ([]byte, []uint16) {
	wire, err := m.Pack()
	if err != nil || len(wire) > 0xffff {
		return nil, nil
	}
	offs, ok := ttlOffsets(wire)
	if !ok || len(offs) != nrr {
		return nil, nil
	}
	return wire, offs
}

// ttlOffsets walks a packed message and returns the offset of every RR's
// TTL field, in section order.
func ttlOffsets(w []byte) ([]uint16, bool) {
	if len(w) < 12 {
		return nil, false
	}
	qd := int(binary.BigEndian.Uint16(w[4:]))
	nrr := int(binary.BigEndian.Uint16(w[6:])) + int(binary.BigEndian.Uint16(w[8:])) + int(binary.BigEndian.Uint16(w[10:]))
	off := 12
	var ok bool
	for range qd {
		if off, ok = skipName(w, off); !ok || off+4 > len(w) {
			return nil, false
		}
		off += 4
	}
	offs := make([]uint16, 0, nrr)
	for range nrr {
		if off, ok = skipName(w, off); !ok || off+10 > len(w) {
			return nil, false
		}
		offs = append(offs, uint16(off+4))
		off += 10 + int(binary.BigEndian.Uint16(w[off+8:]))
	}
	return offs, off == len(w)
}

// skipName returns the offset just past the (possibly compressed) name at off.
func skipName(w []byte, off int) (int, bool) {
	for off < len(w) {
		switch b := w[off]; {
		case b == 0:
			return off + 1, true
		case b&0xc0 == 0xc0:
			return off + 2, off+2 <= len(w)
		case b&0xc0 != 0:
			return 0, false
		default:
			off += 1 + int(b)
		}
	}
	return 0, false
}

// AppendWire appends to dst a fresh cached answer to req in wire form — the
// zero-copy path for UDP listeners: ID, RD and the question's letter case
// are the client's and TTLs are aged, but there is no OPT record (append
// the client's and bump ARCOUNT) and no truncation. It reports false, with
// dst unchanged and nothing counted, when there is no fresh entry or the
// answer would not fit the client's UDP size (with an 11-byte OPT if EDNS);
// the caller then goes through Resolve. check decides which answers may
// skip the steps above the cache (the policy: CNAME cloaking); a nil
// check serves none.
func (c *Cache) AppendWire(dst []byte, req *contract.Request, check interface{ ServesWire([]dns.RR) bool }) ([]byte, bool) {
	if c.store == nil || req.Msg == nil {
		return dst, false
	}
	now := c.clk.Now()
	k := c.key(req)
	e := c.store.get(k)
	if e == nil || e.wire == nil || e.expired(now) || check == nil || !check.ServesWire(e.msg.Answer) {
		return dst, false
	}
	size := len(e.wire)
	if req.EDNS {
		size += 11
	}
	if req.Proto == contract.ProtoUDP && size > int(req.UDPSize) {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, e.wire...)
	w := dst[start:]
	dnswire.SetID(w, req.Msg.Id)
	f := dnswire.Flags(w) &^ dnswire.FlagRD
	if req.Msg.RecursionDesired {
		f |= dnswire.FlagRD
	}
	dnswire.SetFlags(w, f)
	if req.Question.Name != e.msg.Question[0].Name {
		setQname(w, req.Question.Name)
	}
	age := e.age(now)
	for i, off := range e.ttlOffs {
		binary.BigEndian.PutUint32(w[off:], e.ttls[i]-age)
	}
	c.hit(e, k, req, now)
	return dst, true
}

// setQname writes name over the question name of w, which differs from it
// only in letter case: clients using 0x20 randomisation expect theirs back.
func setQname(w []byte, name string) {
	var buf [256]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if end, ok := skipName(w, 12); ok && err == nil && end-12 == n {
		copy(w[12:], buf[:n])
	}
}
