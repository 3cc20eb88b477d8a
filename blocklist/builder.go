package blocklist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"unsafe"
)

// Builder collects rules and compiles them into a Set. It builds sort
// first (docs/ARCHITECTURE.md, "Building a large set"): Add appends each
// rule to a flat, pointer-free buffer, its name turned into a sort key
// with the labels reversed (keys.go); Build sorts the buffer by key (a
// radix sort), ties in Add order, so that every name's subtree is a run
// and the rules at one name are in the order they were added, which
// breaks ties between rules (the first list in config order decides the
// action); then one pass over the buffer builds the trie in depth-first
// order, the order compile reads and lays it out in. No index of nodes is
// needed and no lookup misses the cache. The builder keeps no reference
// to the names it is given. A Builder is not safe for concurrent use.
type Builder struct {
	tails []byte // the tails of long keys (keys.go), each after its length byte
	ents  []ruleEntry
	mem   *scratch // the mappings ents and tails are in, if large (rulebuf.go)
	key   *keyBuf  // Add's scratch
	n     int
	opts  layoutOpts

	rules  []ruleVal // distinct rules in the order first added; rules[0] is none
	ruleID map[ruleVal]uint32
	last   ruleVal // the previous rule's value and index: lists add
	lastID uint32  // runs of rules with one payload
}

// ruleEntry is one rule in the builder's buffer: 24 bytes and no pointer.
type ruleEntry struct {
	p0, p1 uint64 // the key's first bytes (packKey): most compares end here
	off    uint32 // the tail is tailAt(tails, off); offsets grow in Add order
	rule   uint32 // index into Builder.rules, and which slots it offers for (entSelf, entBelow)
}

const (
	entSelf  = 1 << 31 // the rule is offered for the name itself
	entBelow = 1 << 30 // and/or for the names below it
	entRule  = entBelow - 1
)

// layoutOpts are the layout knobs. Tests shrink them to push small inputs
// through the bucketed code paths; zero means the default.
type layoutOpts struct {
	smallMax  int    // children scanned linearly; more get hash buckets
	perBucket int    // mean children per hash bucket, in tenths
	seed      uint64 // bucket hash seed; 0 picks a random one per Build
	// trace, if set, is called as each phase of a build ends (sort, tree,
	// ...): a test samples the process's memory there (memory_test.go).
	trace func(phase string)
}

// phase reports the end of a build phase to trace.
func (o *layoutOpts) phase(name string) {
	if o.trace != nil {
		o.trace(name)
	}
}

const (
	defaultSmallMax  = 8
	defaultPerBucket = 25
)

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{rules: []ruleVal{{}}, ruleID: map[ruleVal]uint32{}}
}

// Add validates r and adds it. The error says what is wrong with the rule,
// so a feed can log it with the line it came from and go on.
func (b *Builder) Add(r Rule) error {
	name, err := ruleName(r)
	if err != nil {
		return fmt.Errorf("invalid rule name %q: %w", r.Name, err)
	}
	if r.Scope > Below {
		return fmt.Errorf("rule %q: unknown scope %d (want subtree, exact or below)", r.Name, r.Scope)
	}
	v := ruleVal{payload: r.Payload, allow: r.Allow, scope: r.Scope}
	b.addEntry(name, v, v.scope != Below, v.scope != Exact)
	b.n++
	return nil
}

// addEntry appends a rule at a canonical name to the buffer.
func (b *Builder) addEntry(name string, v ruleVal, self, below bool) {
	key := b.keyOf(name)
	p0, p1 := packKeyBuf((*[inlineSyms]byte)(b.key.key[:inlineSyms]), len(key) > inlineSyms)
	b.pushPacked(key, p0, p1, v, self, below)
}

// keyOf writes name's key (putKey) to the Builder's scratch and returns
// it; it is valid until the next call.
func (b *Builder) keyOf(name string) []byte {
	if b.key == nil {
		b.key = new(keyBuf)
	}
	return b.key.key[:putKey(b.key, name)]
}

// push appends the entry of a rule whose name has the given key. Every
// entry takes a byte of the tail buffer at least, so that offsets, which
// break ties, are in Add order.
func (b *Builder) push(key []byte, v ruleVal, self, below bool) {
	p0, p1 := packKey(key)
	b.pushPacked(key, p0, p1, v, self, below)
}

// pushPacked is push with the key's words already packed.
func (b *Builder) pushPacked(key []byte, p0, p1 uint64, v ruleVal, self, below bool) {
	ri := b.intern(v)
	if self {
		ri |= entSelf
	}
	if below {
		ri |= entBelow
	}
	off := len(b.tails)
	var tail []byte
	if p1&keyLong != 0 {
		tail = key[inlineSyms:]
	}
	if cap(b.tails)-off < 1+len(tail) {
		b.growTails(off/4 + 1 + len(tail) + 4096)
	}
	// Room is reserved above: the stores need no append's checks, and a
	// short key (most) stores only its zero length byte.
	b.tails = b.tails[:off+1+len(tail)]
	b.tails[off] = byte(len(tail))
	if len(tail) > 0 {
		copy(b.tails[off+1:], tail)
	}
	if len(b.ents) == cap(b.ents) {
		b.growEnts(len(b.ents)/4 + 1024)
	}
	b.ents = append(b.ents, ruleEntry{p0: p0, p1: p1, off: uint32(off), rule: ri})
}

// intern returns v's index in b.rules, adding it if it is new.
func (b *Builder) intern(v ruleVal) uint32 {
	if b.lastID != 0 && v == b.last {
		return b.lastID
	}
	ri, ok := b.ruleID[v]
	if !ok {
		ri = uint32(len(b.rules))
		b.rules = append(b.rules, v)
		b.ruleID[v] = ri
	}
	b.last, b.lastID = v, ri
	return ri
}

// Grow reserves room for about n more rules, as feeds estimate how many
// lines they hold. It reserves half as many again, as an estimate short
// of the real count would grow the buffer at its largest, the old and the
// new array both resident for a moment. The room is a fresh mapping
// (rulebuf.go) or allocated with make, not append: pages of either that
// are never written are never resident, while append's growth clears
// the whole new capacity.
func (b *Builder) Grow(n int) {
	if n > 0 {
		n += n / 2
		b.growEnts(n)
		b.growTails(n * avgTailBytes)
	}
}

// growRoom returns s with room for n more elements, reserved untouched.
func growRoom[E any](s []E, n int) []E {
	if cap(s)-len(s) >= n {
		return s
	}
	g := make([]E, len(s), len(s)+n)
	copy(g, s)
	return g
}

// avgTailBytes is what Grow reserves per rule in the tail buffer: its
// byte, and the tails of the long names (a fifth of a generated list's).
const avgTailBytes = 3

// Len returns the number of rules added so far.
func (b *Builder) Len() int { return b.n }

// Build compiles the rules added so far into a Set. The Builder stays
// usable: more rules may be added and Build called again.
func (b *Builder) Build() (*Set, error) { return b.build(false) }

// Finish is Build for the last time: the rule buffer is freed as soon as
// the trie is built from it, before the compile allocates its output, so
// a large build's peak is the buffer and the trie or the trie and the
// output, never all three; the Builder is empty afterwards.
func (b *Builder) Finish() (*Set, error) {
	s, err := b.build(true)
	b.freeBuffers() // build did unless it failed
	*b = Builder{opts: b.opts, mem: b.mem, rules: []ruleVal{{}}, ruleID: map[ruleVal]uint32{}}
	return s, err
}

func (b *Builder) build(consume bool) (*Set, error) {
	o := b.opts
	if o.smallMax == 0 {
		o.smallMax = defaultSmallMax
	}
	if o.perBucket == 0 {
		o.perBucket = defaultPerBucket
	}
	if o.seed == 0 {
		// A per-build random seed keeps a hostile feed from stuffing one
		// bucket with colliding labels.
		o.seed = rand.Uint64() | 1
	}
	if uint64(len(b.tails)) > math.MaxUint32 || len(b.rules) > entRule {
		return nil, fmt.Errorf("building blocklist of %d rules: over 4 GiB of long names or 2^30 distinct rules; split the lists", b.n)
	}
	b.sort()
	o.phase("sort")
	sc := newScratch()
	defer sc.release()
	t := b.tree(nil, consume, sc)
	if consume {
		// The rule buffer is garbage now, and so is the parse's, which
		// the heap would keep resident through the compile's peak. The
		// buffer's size, mapped or not, says how large the build is.
		spent := uint64(cap(b.ents))*uint64(unsafe.Sizeof(ruleEntry{})) + uint64(cap(b.tails))
		b.freeBuffers()
		releaseGarbage(spent)
	}
	o.phase("tree")
	s, err := t.compile(o)
	if err != nil {
		return nil, fmt.Errorf("building blocklist of %d rules: %w", b.n, err)
	}
	return s, nil
}

// tree is the builder's uncompressed trie: nodes in parallel arrays,
// indexed by id, in depth-first order (a node's subtree follows it), which
// is the order compile reads them in. Node 0 is the root. A node's parent
// is the last node before it one level up, so no array holds it. It holds
// no pointers per node, so a million rules cost the GC little.
type tree struct {
	n     []uint8 // label length
	depth []uint8
	self  []uint32 // rule indexes, 0 = none, unless narrow
	below []uint32
	// With at most 256 rules (most sets: a rule is a list's action), the
	// slots are a byte each: 8 bytes a node were a third of the trie.
	narrow        bool
	self8, below8 []uint8
	// packed holds every node's label packed (label.go), in id order,
	// followed by padBytes zero bytes for whole-word loads; labelAt holds
	// where every labelStride-th node's label starts (labelOff).
	packed  []byte
	labelAt []uint32

	rules []ruleVal // the builder's, shared
	sc    *scratch  // where the arrays are (nil: the heap)

	// Where rules of two or more lists meet at a slot, alt holds the
	// node's candidate groups (view.go); only such nodes have an entry.
	alt      map[uint32]altPair
	groups   [][]uint32 // group id-1 -> rule indexes, best first, one per list
	groupID  map[string]uint32
	groupBuf []uint32
	groupKey []byte
}

// newTree returns a trie of the root alone with room for about nodes,
// its arrays in sc (nil: the heap). A mapping's untouched pages cost
// nothing, so there it reserves twice as many: an estimate short of the
// real count would move an array to the heap.
func newTree(rules []ruleVal, nodes int, sc *scratch) *tree {
	if sc != nil {
		nodes *= 2
	}
	t := &tree{
		n:       scratchMake[uint8](sc, 1, nodes+1),
		depth:   scratchMake[uint8](sc, 1, nodes+1),
		packed:  scratchMake[byte](sc, 0, 8*nodes+padBytes),
		labelAt: scratchMake[uint32](sc, 1, nodes/labelStride+2),
		rules:   rules,
		sc:      sc,
		alt:     map[uint32]altPair{},
		groupID: map[string]uint32{},
		narrow:  len(rules) <= 1<<8,
	}
	if t.narrow {
		t.self8 = scratchMake[uint8](sc, 1, nodes+1)
		t.below8 = scratchMake[uint8](sc, 1, nodes+1)
	} else {
		t.self = scratchMake[uint32](sc, 1, nodes+1)
		t.below = scratchMake[uint32](sc, 1, nodes+1)
	}
	t.packed = append(t.packed, make([]byte, padBytes)...)
	return t
}

// sort orders the buffer by key and, among equal keys, in Add order (the
// tail offsets), which is what breaks ties.
func (b *Builder) sort() {
	radixSort(b.ents, 0, b.tails)
	runtime.KeepAlive(b) // its cleanup would unmap the buffers (rulebuf.go)
}

// radixSort sorts a by key from the byte d of its entries' words on (an
// in-place most-significant-digit radix sort, American flag style): a
// comparison sort of a million entries was a fifth of a build, and most
// of it compared the same leading bytes (the TLD) again and again. Runs
// too short to gain, and runs equal in all sixteen bytes, go to
// compareEntries, whose order is total, so no stability is needed.
func radixSort(a []ruleEntry, d int, tails []byte) {
	for {
		if len(a) <= radixMin {
			insertionSort(a, tails)
			return
		}
		if d == 16 {
			slices.SortFunc(a, func(x, y ruleEntry) int { return compareEntries(tails, x, y) })
			return
		}
		// Byte d is byte d%8 of one word for every entry: read it as
		// the word shifted, not through digit's branch per entry.
		word, shift := 0, 56-8*uint(d%8)
		if d >= 8 {
			word = 1
		}
		var count [256]uint32
		if word == 0 {
			for i := range a {
				count[byte(a[i].p0>>shift)]++
			}
		} else {
			for i := range a {
				count[byte(a[i].p1>>shift)]++
			}
		}
		if int(count[digit(&a[0], d)]) == len(a) { // one bucket: the next byte
			d++
			continue
		}
		// next[c] is where bucket c's next entry goes.
		var next [256]uint32
		at := uint32(0)
		for c := range 256 {
			next[c] = at
			at += count[c]
		}
		end := uint32(0)
		for c := range 256 {
			end += count[c] // bucket c ends where c+1 starts
			for next[c] < end {
				v := a[next[c]]
				for dv := digitAt(&v, word, shift); int(dv) != c; dv = digitAt(&v, word, shift) {
					v, a[next[dv]] = a[next[dv]], v
					next[dv]++
				}
				a[next[c]] = v
				next[c]++
			}
		}
		for c, start := 0, uint32(0); c < 256; c++ {
			if n := count[c]; n > 1 {
				radixSort(a[start:start+n], d+1, tails)
			}
			start += count[c]
		}
		return
	}
}

// digitAt is digit for a byte d of word (0: p0) at shift.
func digitAt(e *ruleEntry, word int, shift uint) byte {
	if word == 0 {
		return byte(e.p0 >> shift)
	}
	return byte(e.p1 >> shift)
}

// radixMin is the run length below which radixSort compares instead.
const radixMin = 48

// insertionSort sorts a short run by compareEntries' order, comparing
// the words inline: slices.SortFunc's call of a comparison closure for
// every pair was half of the sort.
func insertionSort(a []ruleEntry, tails []byte) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for ; j > 0 && entryLess(tails, &v, &a[j-1]); j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}

// entryLess reports whether x orders before y (compareEntries).
func entryLess(tails []byte, x, y *ruleEntry) bool {
	if x.p0 != y.p0 {
		return x.p0 < y.p0
	}
	if x.p1 != y.p1 {
		return x.p1 < y.p1
	}
	return compareEntries(tails, *x, *y) < 0
}

// digit is byte d (0-15) of e's words, most significant first.
func digit(e *ruleEntry, d int) byte {
	if d < 8 {
		return byte(e.p0 >> (56 - 8*uint(d)))
	}
	return byte(e.p1 >> (56 - 8*uint(d-8)))
}

// compareEntries orders entries by key, then by offset (Add order).
func compareEntries(tails []byte, x, y ruleEntry) int {
	if x.p0 != y.p0 {
		if x.p0 < y.p0 {
			return -1
		}
		return 1
	}
	if x.p1 != y.p1 {
		if x.p1 < y.p1 {
			return -1
		}
		return 1
	}
	if x.p1&keyLong != 0 {
		if c := compareTails(tails, x.off, y.off); c != 0 {
			return c
		}
	}
	if x.off < y.off {
		return -1
	}
	if x.off > y.off {
		return 1
	}
	return 0
}

// tree builds the trie from the sorted buffer in one pass: each entry's
// name shares its leading labels with the previous entry's (their nodes
// are on the path), and the rest are new nodes, the children of the last
// shared one. Rules are offered to their nodes in buffer order, which at
// one name is Add order. With nodeOf, it records each entry's node there.
// With consume the entries are not needed afterwards (Finish): their
// pages go back to the kernel as the pass leaves them behind, so the
// buffer and the trie never peak together. The trie's arrays are in sc
// (nil: the heap).
func (b *Builder) tree(nodeOf []uint32, consume bool, sc *scratch) *tree {
	t := newTree(b.rules, len(b.ents)+len(b.ents)/2, sc)
	var path [maxDepth + 1]uint32 // path[d]: the node at depth d of the previous name
	var ends [maxDepth + 1]int    // ends[d]: where its label at depth d+1 ends in key
	// The shared length of two entries' keys comes from their words
	// (sharedSyms) and, where both are long, their tails. A label within
	// an entry's inline symbols is cut out of its words (keyLabel), its
	// end found there too (nextZeroSym): unpacking the symbols to bytes
	// and packing the labels from those took 8% more of this pass's CPU
	// (1M names) and 6% more instructions. A label
	// that reaches the tail goes through key: past inlineSyms it holds
	// the previous long entry's tail, then this one's (the bytes they
	// share are not written again); below it, the inline bytes of such a
	// label, unpacked when it comes. Where the labels of the previous
	// name end is in ends, so a label shared with it costs a compare,
	// not a walk over its bytes.
	var buf [8 + MaxNameLen + 1]byte // the key from buf[8]: packKeyLabel loads words before a label
	key := buf[8:]
	prevLen, prevDepth := 0, 0
	var q0, q1 uint64 // the previous entry's words
	released := 0     // entries before it are released
	for i, e := range b.ents {
		// The tails are scattered over the buffer in sorted order:
		// prefetch the one prefetchAhead entries on now, so that its miss
		// overlaps this entry's work rather than stalling the next. An
		// ordinary load did not: a missing load holds up retirement, and
		// at 10M names it was a fifth of this pass (prefetch.go).
		if j := i + prefetchAhead; j < len(b.ents) && b.ents[j].p1&keyLong != 0 {
			prefetch(&b.tails[b.ents[j].off])
		}
		n := inlineLen(e.p0, e.p1)
		long := e.p1&keyLong != 0
		var tail []byte
		if long {
			tail = tailAt(b.tails, e.off)
			n += len(tail)
		}
		same := min(sharedSyms(e.p0, e.p1, q0, q1), n, prevLen)
		if same == inlineSyms && long && q1&keyLong != 0 {
			same += commonPrefix(tail, key[inlineSyms:prevLen])
		}
		if long {
			copy(key[max(same, inlineSyms):n], tail[max(same, inlineSyms)-inlineSyms:])
		}
		// The labels of the previous name that end inside the shared
		// bytes are this name's too, and the one that ends where they
		// do if this name's label ends there as well.
		sep := same == n // this name's label ends at same too
		switch {
		case sep:
		case same < inlineSyms:
			sep = symAt(e.p0, e.p1, same) == 0
		default:
			sep = key[same] == 0
		}
		d := 0
		for d < prevDepth && (ends[d] < same || ends[d] == same && sep) {
			d++
		}
		cur := path[d]
		s := 0
		if d > 0 {
			s = ends[d-1] + 1
		}
		var c0, c1, z0, z1 uint64
		if s < min(n, inlineSyms) {
			c0, c1, z0, z1 = keyCodes(e.p0), keyCodes(e.p1), keyZeros(e.p0), keyZeros(e.p1)
		}
		for s < n {
			var w packedLabel
			end := inlineSyms
			if s < inlineSyms {
				end = nextZeroSym(z0, z1, s)
			}
			if end < inlineSyms || s < inlineSyms && !long {
				w = keyLabel(c0, c1, s, end)
			} else {
				if s < inlineSyms { // the label runs on into the tail
					unpackSyms(key[:inlineSyms], e.p0, e.p1, s)
				}
				end = keyLabelEnd(key, s, n)
				w = packKeyLabel(buf[:], 8+s, 8+end)
			}
			cur = t.newNode(cur, &w, end-s)
			path[d+1], ends[d] = cur, end
			d++
			s = end + 1
		}
		prevLen, prevDepth, q0, q1 = n, d, e.p0, e.p1
		ri := e.rule & entRule
		if e.rule&entSelf != 0 {
			t.offer(cur, ri, false)
		}
		if e.rule&entBelow != 0 {
			t.offer(cur, ri, true)
		}
		if nodeOf != nil {
			nodeOf[i] = cur
		}
		if consume && (i+1)%releaseEvery == 0 {
			released = b.releaseEntries(released, i+1)
		}
	}
	runtime.KeepAlive(b) // its cleanup would unmap the buffers (rulebuf.go)
	return t
}

// keyLabelEnd returns where the label that starts at s in key ends: at the
// next zero byte (the separator) or at n, the key's length. It tests
// eight bytes at a time: a byte at a time, the scan was a tenth of the
// trie's pass. Bytes of key past n (an earlier key's) are not trusted.
func keyLabelEnd(key []byte, s, n int) int {
	for s < n && s+8 <= len(key) {
		x := binary.LittleEndian.Uint64(key[s:])
		// The lowest byte flagged is the first zero byte exactly.
		if z := (x - 0x0101010101010101) &^ x & 0x8080808080808080; z != 0 {
			return min(s+bits.TrailingZeros64(z)/8, n)
		}
		s += 8
	}
	for s < n && key[s] != 0 {
		s++
	}
	return min(s, n)
}

// releaseEvery is how many entries the trie's pass consumes between
// releases of their pages (192 KiB): the trie grows by about half what
// is released, and a coarser step (1.5 MiB) put a megabyte on the peak.
const releaseEvery = 1 << 13

// releaseEntries releases the pages of b.ents[from:to] and returns to.
// The entries are not read again: the pass has gone by, and the page
// shared with later entries is kept (releasePages keeps partial pages).
func (b *Builder) releaseEntries(from, to int) int {
	ents := b.ents[from:to]
	releasePages(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ents))), len(ents)*int(unsafe.Sizeof(ruleEntry{}))))
	return to
}

// entryKey appends e's key to dst.
func (b *Builder) entryKey(dst []byte, e ruleEntry) []byte {
	dst = unpackKey(dst, e.p0, e.p1)
	if e.p1&keyLong != 0 {
		dst = append(dst, tailAt(b.tails, e.off)...)
	}
	return dst
}

// prefetchAhead is how far ahead the trie's pass loads tails: enough for
// the misses to be in flight together, few enough to stay in cache.
const prefetchAhead = 16

// newNode appends a child of parent labelled w, packed, of n characters.
func (t *tree) newNode(parent uint32, w *packedLabel, n int) uint32 {
	id := uint32(len(t.n))
	t.n = append(t.n, uint8(n))
	t.depth = append(t.depth, t.depth[parent]+1)
	if t.narrow {
		t.self8 = append(t.self8, 0)
		t.below8 = append(t.below8, 0)
	} else {
		t.self = append(t.self, 0)
		t.below = append(t.below, 0)
	}
	at := len(t.packed) - padBytes
	if id%labelStride == 0 {
		t.labelAt = append(t.labelAt, uint32(at))
	}
	t.packed = storePacked(t.packed, at, w, n)
	return id
}

// storePacked writes the packed label w of n characters at packed[at:],
// where the padding after the last label starts, and returns packed with
// the padding after it. It stores whole words: w's bits past the label
// are zero, and so is the array past its length (only words like these
// are stored there), so the padding is zero without writing it. Where
// the room is short it appends (appendPacked), moving the array.
func storePacked(packed []byte, at int, w *packedLabel, n int) []byte {
	nb := packedBytes(n)
	if cap(packed)-at < 8*maxWords+padBytes {
		packed = appendPacked(packed[:at], w, n)
		var pad [padBytes]byte
		return append(packed, pad[:]...)
	}
	dst := packed[at : at+8*maxWords : at+8*maxWords]
	for i := 0; 8*i < nb; i++ {
		binary.LittleEndian.PutUint64(dst[8*i:], w[i])
	}
	return packed[:at+nb+padBytes]
}

// slot returns node id's self or below slot.
func (t *tree) slot(id uint32, below bool) uint32 {
	switch {
	case t.narrow && below:
		return uint32(t.below8[id])
	case t.narrow:
		return uint32(t.self8[id])
	case below:
		return t.below[id]
	}
	return t.self[id]
}

// setSlot sets node id's self or below slot to rule ri.
func (t *tree) setSlot(id uint32, below bool, ri uint32) {
	switch {
	case t.narrow && below:
		t.below8[id] = uint8(ri)
	case t.narrow:
		t.self8[id] = uint8(ri)
	case below:
		t.below[id] = ri
	default:
		t.self[id] = ri
	}
}

// pair returns node id's slots.
func (t *tree) pair(id uint32) rulePair {
	if t.narrow {
		return rulePair{uint32(t.self8[id]), uint32(t.below8[id])}
	}
	return rulePair{t.self[id], t.below[id]}
}

// labelStride is how many nodes share an entry of labelAt. An offset per
// node cost 4 bytes a node, a tenth of a large build's memory at its peak;
// one per 16 costs a quarter byte, and finding a label sums at most 15
// lengths from one cache line of t.n.
const labelStride = 16

// labelOff returns where node id's label starts in t.packed: labels are
// stored in id order, so it is its stride's first label's offset plus the
// packed lengths of the labels before it in the stride.
func (t *tree) labelOff(id uint32) int {
	off := int(t.labelAt[id/labelStride])
	for _, l := range t.n[id&^(labelStride-1) : id] {
		off += packedBytes(int(l))
	}
	return off
}

// selfRank orders rules competing for a name itself.
func (t *tree) selfRank(ri uint32) int {
	v := &t.rules[ri]
	rank := 0
	if v.scope == Exact {
		rank = 2
	}
	if v.allow {
		rank++
	}
	return rank
}

// belowRank orders rules competing for the names below a name: subtree
// and below rules rank equally.
func (t *tree) belowRank(ri uint32) int {
	if t.rules[ri].allow {
		return 1
	}
	return 0
}

// countRules counts the distinct rules a pair holds: a subtree rule fills
// both slots with the same rule, so it counts once.
func countRules(p rulePair) int {
	n := 0
	if p.self != 0 {
		n++
	}
	if p.below != 0 && p.below != p.self {
		n++
	}
	return n
}

// findKey returns the index of an entry of the sorted buffer whose name
// is name (canonical), if there is one.
func (b *Builder) findKey(name string) (int, bool) {
	k := b.keyOf(name)
	var buf []byte
	return slices.BinarySearchFunc(b.ents, k, func(e ruleEntry, k []byte) int {
		buf = b.entryKey(buf[:0], e)
		return bytes.Compare(buf, k)
	})
}

// addKeyEntry is addEntry for a name given as its key (AddSet).
func (b *Builder) addKeyEntry(key []byte, v ruleVal, self, below bool) { b.push(key, v, self, below) }
