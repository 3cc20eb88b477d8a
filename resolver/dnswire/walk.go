package dnswire

import "encoding/binary"

// Sections of a message's records, as Walk reports them.
const (
	SectionAnswer = iota
	SectionAuthority
	SectionAdditional
)

// RR is where one resource record lies in a message, as Walk finds it:
// offsets into the message, and the fixed fields it read on the way.
type RR struct {
	Section int
	Owner   int // the owner name
	Type    uint16
	Class   uint16
	TTL     int // the TTL field
	Data    int // the RDATA, Len octets
	Len     int
}

// End is the offset just past r.
func (r RR) End() int { return r.Data + r.Len }

// Walk checks that w is shaped like a DNS message — a header, the questions
// and records its counts announce, every name a sequence of labels ending
// in the root or a compression pointer, every RDATA inside the message,
// — and calls fn for each record in order. It returns where the last
// record ends (octets after it are the caller's to refuse or cut). It
// decodes nothing and allocates nothing: it is how a reply is checked
// before it is relayed and stored as received, and how the cache finds the
// TTL fields it ages. ok is false for a message of another shape, or as
// soon as fn returns false.
func Walk(w []byte, fn func(RR) bool) (end int, ok bool) {
	if len(w) < HeaderLen {
		return 0, false
	}
	qd, an, ns, ar := Counts(w)
	off := HeaderLen
	for range qd {
		if off, ok = SkipName(w, off); !ok || off+4 > len(w) {
			return 0, false
		}
		off += 4
	}
	if int(an)+int(ns)+int(ar) > len(w) { // each record takes at least 11 octets
		return 0, false
	}
	counts := [3]uint16{an, ns, ar}
	for sec, n := range counts {
		for range n {
			r := RR{Section: sec, Owner: off}
			if off, ok = SkipName(w, off); !ok || off+10 > len(w) {
				return 0, false
			}
			r.Type = binary.BigEndian.Uint16(w[off:])
			r.Class = binary.BigEndian.Uint16(w[off+2:])
			r.TTL, r.Data = off+4, off+10
			r.Len = int(binary.BigEndian.Uint16(w[off+8:]))
			if r.End() > len(w) || !fn(r) {
				return 0, false
			}
			off = r.End()
		}
	}
	return off, true
}

// SkipName returns the offset just past the (possibly compressed) name at
// off in w; false if no well-formed name starts there.
func SkipName(w []byte, off int) (int, bool) {
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
