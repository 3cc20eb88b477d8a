package blocklist

import "math/bits"

// A Set stores the trie as one byte slice of variable-length node records
// in depth-first order: a node's record is followed at once by its
// children's records, each followed by its own children, and so on. A
// name's path through the trie is therefore mostly in one or two cache
// lines once the second-level label is found, and no node holds a pointer.
// A record says how many bytes its children take, so that a scan over
// siblings can step over a whole subtree. A node with many children has a
// hash-bucket directory instead of being scanned.
//
// Record:
//
//	hdr       bit 7: has children; bits 5-6: rule state; bits 0-4: label length 1-31, or 0 = extended
//	[ext]     if length bits are 0: 0-63 = label length (0 only for the root), 64+i = dictionary label i
//	[label]   packed label bytes (see label.go), unless a dictionary label
//	[pair]    uvarint pair index, if rule state is 3 (states 0-2 mean pair 0, 1, 2)
//	[kids]    if it has children: uvarint x, [uvarint dir], uvarint size; then size bytes of children
//	          x = n<<1:    n children, scanned in order
//	          x = nb<<1|1: nb hash buckets; bucket b's records start at offset dir[d+2b], its
//	          fingerprints are dir[d+2b+1] and it ends where the next bucket starts, dir[d+2b+2]
//
// A pair names the rule for the node itself ("self": Exact or Subtree) and
// the rule for names strictly below it ("below": Subtree or Below), as
// indexes into the deduplicated rule table; 0 means none.
const (
	hdrKids       = 0x80
	hdrStateMask  = 0x60
	hdrStateShift = 5
	hdrLenMask    = 0x1f
	stateExplicit = 3
	extDict       = 64
	maxDict       = 256 - extDict
	// padBytes lets eqPacked load a whole word at a label's last byte.
	padBytes = 8
	// maxDepth bounds the labels of a stored name (253 bytes, 1-byte labels).
	maxDepth = (MaxNameLen + 1) / 2
)

// rec is a decoded record: what Match needs to go on from a node.
type rec struct {
	pair uint32 // index into Set.pairs
	x    uint32 // 0: no children; else see the layout above
	dir  uint32 // directory index, if bucketed
	kids uint32 // where the children start
	end  uint32 // where the record and its children end
}

// ruleVal is a stored rule minus its name: what a Match reports.
type ruleVal struct {
	payload Payload
	allow   bool
	scope   Scope
}

// rulePair is the self and below rule of one node (indexes into rules).
type rulePair struct {
	self, below uint32
}

// dictLabel is a frequent label stored once and referenced by index.
type dictLabel struct {
	w packedLabel
	n int
}

// uvarint decodes a varint the snapshot validator has already bounded.
func uvarint(b []byte, i int) (uint32, int) {
	var x uint32
	var s uint
	for {
		c := b[i]
		i++
		x |= uint32(c&0x7f) << s
		if c < 0x80 {
			return x, i
		}
		s += 7
	}
}

// skipUvarint steps over one varint.
func skipUvarint(b []byte, i int) int {
	for b[i] >= 0x80 {
		i++
	}
	return i + 1
}

// decode reads the record at p.
func (s *Set) decode(p int) rec {
	var r rec
	s.decodeAfter(&r, s.nodes[p], labelEnd(s.nodes, p))
	return r
}

// labelEnd returns where the label of the record at p ends.
func labelEnd(b []byte, p int) int {
	if n := int(b[p] & hdrLenMask); n != 0 {
		return p + 1 + packedBytes(n)
	}
	if e := int(b[p+1]); e < extDict {
		return p + 2 + packedBytes(e)
	}
	return p + 2
}

// decodeAfter reads into r the rest of a record with header h whose label
// ends at q.
func (s *Set) decodeAfter(r *rec, h byte, q int) {
	b := s.nodes
	r.x = 0
	if st := uint32(h&hdrStateMask) >> hdrStateShift; st == stateExplicit {
		r.pair, q = uvarint(b, q)
	} else {
		r.pair = st
	}
	if h&hdrKids != 0 {
		var size uint32
		r.x, q = uvarint(b, q)
		if r.x&1 != 0 {
			r.dir, q = uvarint(b, q)
		}
		size, q = uvarint(b, q)
		r.kids = uint32(q)
		q += int(size)
	}
	r.end = uint32(q)
}

// child moves r to its child with the label w (n characters), if it has
// one; r is left undefined if not.
func (s *Set) child(r *rec, n int, w *packedLabel) bool {
	if r.x&1 != 0 {
		return s.bucketChild(r, n, w)
	}
	p := int(r.kids)
	for cnt := int(r.x >> 1); cnt > 0; cnt-- {
		if q := s.labelAt(p, n, w); q > 0 {
			s.decodeAfter(r, s.nodes[p], q)
			return true
		}
		p = s.skip(p)
	}
	return false
}

// bucketChild looks a label up in a bucketed block. The directory entry
// of a bucket holds the offset of its first record and the fingerprints
// of its first records, so a label that is not there is usually turned
// away without reading a single record.
func (s *Set) bucketChild(r *rec, n int, w *packedLabel) bool {
	h := hashLabel(w, n, s.seed)
	bk := r.dir + 2*bucketOf(h, r.x>>1)
	d := s.dir[bk : bk+3]
	p, fps := int(d[0]), d[1]
	x := fps ^ (0x01010101 * uint32(fingerprint(h)))
	// A high bit per byte of x that is zero (false positives are
	// possible and harmless: the label is compared anyway).
	m := (x - 0x01010101) &^ x & 0x80808080
	at := 0
	for m != 0 {
		k := bits.TrailingZeros32(m) >> 3
		m &= m - 1
		for ; at < k; at++ {
			p = s.skip(p)
		}
		if q := s.labelAt(p, n, w); q > 0 {
			s.decodeAfter(r, s.nodes[p], q)
			return true
		}
	}
	if fps>>24 != fpOverflow {
		return false
	}
	// More records than fingerprints: scan the rest.
	for ; at < fpSlots-1; at++ {
		p = s.skip(p)
	}
	for end := int(d[2]); p < end; p = s.skip(p) {
		if q := s.labelAt(p, n, w); q > 0 {
			s.decodeAfter(r, s.nodes[p], q)
			return true
		}
	}
	return false
}

// labelAt returns where the label of the record at p ends if it is w (n
// characters), else 0.
func (s *Set) labelAt(p, n int, w *packedLabel) int {
	b := s.nodes
	if l := int(b[p] & hdrLenMask); l != 0 {
		if l == n && eqPacked(b, p+1, n, w) {
			return p + 1 + packedBytes(n)
		}
		return 0
	}
	e := int(b[p+1])
	if e >= extDict {
		if d := &s.dict[e-extDict]; d.n == n && d.w == *w {
			return p + 2
		}
		return 0
	}
	if e == n && eqPacked(b, p+2, n, w) {
		return p + 2 + packedBytes(n)
	}
	return 0
}

// skip returns the offset of the record after the one at p and its
// children.
func (s *Set) skip(p int) int {
	b := s.nodes
	h := b[p]
	q := p + 1
	if l := int(h & hdrLenMask); l != 0 {
		q += packedBytes(l)
	} else {
		e := int(b[q])
		q++
		if e < extDict {
			q += packedBytes(e)
		}
	}
	if h&hdrStateMask == stateExplicit<<hdrStateShift {
		q = skipUvarint(b, q)
	}
	if h&hdrKids != 0 {
		if b[q]&1 != 0 { // x is odd: a directory index follows
			q = skipUvarint(b, q)
		}
		q = skipUvarint(b, q)
		size, next := uvarint(b, q)
		q = next + int(size)
	}
	return q
}

// Bucket fingerprints: one byte per record in the first fpSlots records
// of a bucket; 0 marks no record, fpOverflow in the last slot says the
// bucket holds more records than slots and the rest must be scanned.
const (
	fpSlots    = 4
	fpOverflow = 0xff
)

// fpWord accumulates the fingerprint word of a bucket, record by record.
type fpWord struct {
	w uint32
	n int
}

func (f *fpWord) add(fp byte) {
	switch {
	case f.n < fpSlots:
		f.w |= uint32(fp) << (8 * f.n)
	case f.n == fpSlots:
		f.w = f.w&^(0xff<<(8*(fpSlots-1))) | fpOverflow<<(8*(fpSlots-1))
	}
	f.n++
}

// fingerprint takes 8 hash bits the bucket index does not use, in 1..254.
func fingerprint(h uint64) byte {
	return byte(uint32(h>>40)&0xff%254 + 1)
}
