package blocklist

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// Every query starts at the root and goes through one of a few hundred TLD
// nodes, so the first step is done on a small table of decoded records
// instead of the generic bucket lookup: one multiply, one compare, no
// record parsing. It is derived from the node records when a Set is built
// or loaded, and never written afterwards.

// topMaxLen is the longest label the table holds: ten 6-bit codes fill
// one word and leave room for the length.
const topMaxLen = 10

// topSlot is one root child in the table; key 0 marks an empty slot.
type topSlot struct {
	key uint64
	r   rec
}

func topKey(n int, w0 uint64) uint64 { return w0 | uint64(n)<<60 }

func topHash(key uint64, shift uint8) uint64 { return key * 0x9e3779b97f4a7c15 >> shift }

// indexTop decodes the root and fills the TLD table.
func (s *Set) indexTop() {
	s.rootRec = s.decode(int(s.root))
	r := s.rootRec
	if r.x == 0 {
		return
	}
	var ps []int
	for p := int(r.kids); p < int(r.end); p = s.skip(p) {
		ps = append(ps, p)
	}
	size := 8
	for size < 2*len(ps) {
		size *= 2
	}
	s.top = make([]topSlot, size)
	s.topShift = uint8(64 - bits.TrailingZeros(uint(size)))
	for _, p := range ps {
		n, w0 := s.shortLabel(p)
		if n == 0 {
			continue
		}
		key := topKey(n, w0)
		i := topHash(key, s.topShift)
		for s.top[i].key != 0 {
			i = (i + 1) & uint64(size-1)
		}
		s.top[i] = topSlot{key: key, r: s.decode(p)}
	}
}

// shortLabel returns the length and packed word of the record's label at
// p, or 0 if it is longer than topMaxLen.
func (s *Set) shortLabel(p int) (int, uint64) {
	b := s.nodes
	h := b[p]
	n, q := int(h&hdrLenMask), p+1
	if n == 0 {
		e := int(b[q])
		if e >= extDict {
			d := &s.dict[e-extDict]
			if d.n > topMaxLen {
				return 0, 0
			}
			return d.n, d.w[0]
		}
		n, q = e, q+1
	}
	if n > topMaxLen {
		return 0, 0
	}
	return n, binary.LittleEndian.Uint64(b[q:]) & (1<<(6*n) - 1)
}

// topChild finds the root's child with the label w (n characters); ok
// says whether the table could answer (it holds labels up to topMaxLen).
func (s *Set) topChild(n int, w *packedLabel) (r rec, found, ok bool) {
	if n > topMaxLen || s.top == nil {
		return r, false, false
	}
	key := topKey(n, w[0])
	mask := uint64(len(s.top) - 1)
	for i := topHash(key, s.topShift); ; i = (i + 1) & mask {
		sl := &s.top[i]
		if sl.key == key {
			return sl.r, true, true
		}
		if sl.key == 0 {
			return r, false, true
		}
	}
}

func (s *Set) topBytes() int { return cap(s.top) * int(unsafe.Sizeof(topSlot{})) }
