package blocklist

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// validate walks every record and checks all that Match relies on to stay
// in bounds: record fields, label bytes and codes, table indexes, children
// nested exactly inside their parent's extent, bucket directories, and the
// bucket and fingerprint of every label in them. Extents nest strictly, so
// each byte is parsed once and the cost is linear even for a crafted
// file. It returns the number of distinct rules.
func (s *Set) validate() (int, error) {
	dataLen := len(s.nodes) - padBytes
	if s.root != 0 {
		return 0, fmt.Errorf("root record at %d, want 0", s.root)
	}
	root, n, _, err := s.parseRecord(0, dataLen)
	if err != nil {
		return 0, fmt.Errorf("root record: %w", err)
	}
	if n != 0 || int(root.end) != dataLen {
		return 0, errors.New("root record has a label or does not span the node area")
	}
	// Depth first, with one frame per record whose children are being
	// checked: the stack is as deep as the trie, however many children a
	// node has (a node of a large set has millions; a stack of waiting
	// children made validation cost more than the set).
	type frame struct {
		r     rec
		at    int
		depth int
		p     int    // where the next child record starts
		left  uint32 // unbucketed: children still to check
		b, nb uint32 // bucketed: the current bucket and how many
		d     []uint32
		fps   fpWord
	}
	var stack []frame
	nrules := countRules(s.pairs[root.pair])
	push := func(r rec, at, depth int) error {
		if r.x == 0 { // leaves, most records, need nothing more
			return nil
		}
		if depth >= maxDepth {
			return fmt.Errorf("record at %d: trie deeper than %d labels", at, maxDepth)
		}
		f := frame{r: r, at: at, depth: depth, p: int(r.kids)}
		if r.x&1 == 0 {
			f.left = r.x >> 1
			stack = append(stack, f)
			return nil
		}
		nb := r.x >> 1
		if uint64(r.dir)+2*uint64(nb)+1 > uint64(len(s.dir)) {
			return fmt.Errorf("record at %d: bucket directory [%d, +%d] out of range", at, r.dir, nb)
		}
		d := s.dir[r.dir : r.dir+2*nb+1]
		if d[0] != r.kids || d[2*nb] != r.end {
			return fmt.Errorf("record at %d: bucket directory does not span its children", at)
		}
		for b := uint32(0); b < nb; b++ {
			if d[2*b] > d[2*b+2] {
				return fmt.Errorf("record at %d: bucket directory not ascending", at)
			}
		}
		f.nb, f.d = nb, d
		stack = append(stack, f)
		return nil
	}
	// visit checks one child record within [p, limit), and for a bucketed
	// parent its bucket; it returns the child, where its extent ends and
	// its label's fingerprint.
	visit := func(p, limit int, bucket uint32, nb uint32) (rec, int, byte, error) {
		c, n, w, err := s.parseRecord(p, limit)
		if err != nil {
			return rec{}, 0, 0, err
		}
		if n == 0 {
			return rec{}, 0, 0, fmt.Errorf("record at %d: empty label below the root", p)
		}
		var fp byte
		if nb != 0 {
			h := hashLabel(&w, n, s.seed)
			if bucketOf(h, nb) != bucket {
				return rec{}, 0, 0, fmt.Errorf("record at %d: label in the wrong hash bucket", p)
			}
			fp = fingerprint(h)
		}
		nrules += countRules(s.pairs[c.pair])
		return c, int(c.end), fp, nil
	}
	if err := push(root, 0, 0); err != nil {
		return 0, err
	}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		at, depth := f.p, f.depth+1
		var c rec
		var err error
		if f.nb == 0 {
			if f.left == 0 {
				if f.p != int(f.r.end) {
					return 0, fmt.Errorf("record at %d: %d bytes after its children", f.at, int(f.r.end)-f.p)
				}
				stack = stack[:len(stack)-1]
				continue
			}
			f.left--
			c, f.p, _, err = visit(f.p, int(f.r.end), 0, 0)
		} else {
			for f.b < f.nb && f.p >= int(f.d[2*f.b+2]) { // the bucket is done
				if f.d[2*f.b+1] != f.fps.w {
					return 0, fmt.Errorf("record at %d: bucket %d fingerprints %08x, want %08x", f.at, f.b, f.d[2*f.b+1], f.fps.w)
				}
				f.b, f.fps = f.b+1, fpWord{}
			}
			if f.b == f.nb {
				stack = stack[:len(stack)-1]
				continue
			}
			var fp byte
			c, f.p, fp, err = visit(f.p, int(f.d[2*f.b+2]), f.b, f.nb)
			f.fps.add(fp)
		}
		if err != nil {
			return 0, err
		}
		if err := push(c, at, depth); err != nil {
			return 0, err
		}
	}
	return nrules, nil
}

// parseRecord checks and decodes the record at p, whose extent (the record
// and its children) must end by limit. It returns the label (length and
// packed form) for the bucket check.
func (s *Set) parseRecord(p, limit int) (r rec, n int, w packedLabel, err error) {
	b := s.nodes[:limit]
	if p < 0 || p >= limit {
		return r, 0, w, fmt.Errorf("record offset %d out of range", p)
	}
	h := b[p]
	q := p + 1
	n = int(h & hdrLenMask)
	dict := -1
	if n == 0 {
		if q >= limit {
			return r, 0, w, fmt.Errorf("record at %d: truncated", p)
		}
		e := int(b[q])
		q++
		switch {
		case e < extDict:
			n = e
		case e-extDict < len(s.dict):
			dict = e - extDict
		default:
			return r, 0, w, fmt.Errorf("record at %d: dictionary index %d out of range", p, e-extDict)
		}
	}
	if dict >= 0 {
		w, n = s.dict[dict].w, s.dict[dict].n
	} else {
		if q+packedBytes(n) > limit {
			return r, 0, w, fmt.Errorf("record at %d: label runs past its extent", p)
		}
		for i := 0; 8*i < packedBytes(n); i++ {
			w[i] = binary.LittleEndian.Uint64(s.nodes[q+8*i:])
			if rem := 6*n - 64*i; rem < 64 {
				w[i] &= 1<<uint(rem) - 1
			}
		}
		for j := 0; j < n; j++ {
			bit := 6 * j
			c := w[bit>>6] >> (bit & 63)
			if bit&63 > 58 {
				c |= w[bit>>6+1] << (64 - bit&63)
			}
			if c &= 63; !validCode(c) {
				return r, 0, w, fmt.Errorf("record at %d: invalid label code %d", p, c)
			}
		}
		q += packedBytes(n)
	}
	st := uint32(h&hdrStateMask) >> hdrStateShift
	r.pair = st
	if st == stateExplicit {
		if r.pair, q, err = checkedUvarint(b, q); err != nil {
			return r, 0, w, fmt.Errorf("record at %d: rule pair: %w", p, err)
		}
	}
	if int(r.pair) >= len(s.pairs) {
		return r, 0, w, fmt.Errorf("record at %d: rule pair %d out of range", p, r.pair)
	}
	if h&hdrKids != 0 {
		if r.x, q, err = checkedUvarint(b, q); err != nil {
			return r, 0, w, fmt.Errorf("record at %d: child count: %w", p, err)
		}
		if r.x>>1 == 0 {
			return r, 0, w, fmt.Errorf("record at %d: marked as having no children", p)
		}
		if r.x&1 != 0 {
			if r.dir, q, err = checkedUvarint(b, q); err != nil {
				return r, 0, w, fmt.Errorf("record at %d: bucket directory: %w", p, err)
			}
		}
		var size uint32
		if size, q, err = checkedUvarint(b, q); err != nil {
			return r, 0, w, fmt.Errorf("record at %d: children size: %w", p, err)
		}
		if uint64(q)+uint64(size) > uint64(limit) {
			return r, 0, w, fmt.Errorf("record at %d: children run past the parent's extent", p)
		}
		r.kids = uint32(q)
		q += int(size)
	}
	r.end = uint32(q)
	return r, n, w, nil
}

// checkedUvarint decodes a varint that must fit in 32 bits and in b.
func checkedUvarint(b []byte, i int) (uint32, int, error) {
	var x uint64
	for k := 0; k < 5; k++ {
		if i >= len(b) {
			return 0, 0, errors.New("truncated varint")
		}
		c := b[i]
		i++
		x |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			if x > 1<<32-1 {
				return 0, 0, errors.New("varint overflows 32 bits")
			}
			return uint32(x), i, nil
		}
	}
	return 0, 0, errors.New("varint longer than 5 bytes")
}
