package blocklist

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime/debug"
	"slices"
	"unsafe"
)

// compile lays the tree out as a Set (see record.go for the format). A
// large build's peak memory is what is live at once, so each of the
// tree's and the compile's arrays is freed when its last reader is done
// (the slots once they are pair indexes, the depths after measure, each
// written subtree's share of the rest as write leaves it behind). The
// tree is unusable afterwards.
func (t *tree) compile(o layoutOpts) (*Set, error) {
	rulesIn := 0
	for id := range uint32(len(t.n)) {
		rulesIn += countRules(t.pair(id))
	}
	e := &emitter{t: t, o: o, dirAt: map[uint32]uint32{}}
	pairs, rules, spans, alts := e.pairTable()
	o.phase("pairs")
	e.groupKids()
	o.phase("kids")
	dict := e.dictionary()
	o.phase("dict")

	total, err := e.measure()
	if err != nil {
		return nil, err
	}
	o.phase("measure")
	if total > math.MaxUint32-padBytes || uint64(len(e.dir)) > math.MaxUint32-1 {
		return nil, errors.New("the compiled set exceeds 4 GiB; split the lists")
	}
	// The records are written in a mapping of their own (scratch), as
	// the trie's arrays are released subtree by subtree behind them
	// (write), and copied into the set's array once those are all gone:
	// a heap array would be resident in full from the start (the runtime
	// clears pages it has used before), on top of the whole trie.
	e.out = scratchMake[byte](t.sc, 0, int(total)+padBytes)
	e.packInfo()
	e.write(e.cursorAt(0))
	o.phase("write")
	if uint64(len(e.out)) != total {
		return nil, fmt.Errorf("internal error: laid out %d bytes, measured %d", len(e.out), total)
	}
	e.freeArrays()
	releaseGarbage(total)
	o.phase("release")
	nodes := e.out[:len(e.out)+padBytes]
	if scratchOwns(t.sc, e.out) {
		nodes = make([]byte, len(e.out)+padBytes)
		copy(nodes, e.out)
		scratchFree(t.sc, e.out)
	} else {
		clear(nodes[len(e.out):]) // appendLabel may have written past the end
	}
	e.out = nil
	s := &Set{
		nodes: nodes,
		dir:   exact(e.dir),
		dict:  dict,
		rules: exact(rules),
		pairs: exact(pairs),
		root:  0,
		seed:  o.seed,
		n:     rulesIn,

		alts:     exact(alts),
		altRules: exact(e.altRules),
		altSpans: exact(spans),
		views:    true,
	}
	s.indexTop()
	return s, nil
}

// releaseMin is the output size from which compile hands its garbage back
// to the OS before allocating the output (releaseGarbage).
const releaseMin = 4 << 20

// releaseGarbage returns the memory the build has freed in the heap to
// the OS, once the rule buffer is spent (Finish) and before the set's
// array of total bytes is allocated: the parse's garbage, the rule
// buffer's span (its pages are released as the trie's pass consumes it)
// and the small blocks' sort buffers, which would otherwise stay
// resident through the compile's peak, in holes the set's array, one
// contiguous array, cannot reuse. The forced collection marks little (the
// builder's arrays hold no pointers); small builds skip it.
func releaseGarbage(total uint64) {
	if total >= releaseMin {
		debug.FreeOSMemory()
	}
}

// emitter lays the records out in two passes: measure computes every
// subtree's size bottom-up (a record holds the size of its children, and
// the size's own length depends on it), then write emits them top-down.
// Nodes are in depth-first order, so a small block's children, in key
// order, are the nodes that follow their parent, each after the subtree
// of the one before: only their number is kept. A bucketed block's are
// written in bucket order, so those alone are listed (order).
type emitter struct {
	t       *tree
	o       layoutOpts
	nk8     []uint8           // per node: its number of children, or kidsBig
	bigKids map[uint32]uint32 // the number of children of nodes with kidsBig (few)
	order   []uint32          // the children of bucketed nodes (in bucket order after measure)
	orderAt map[uint32]uint32 // per bucketed node (few): where its children are in order
	// bucketedIDs lists the bucketed nodes in id order (releaseSubtree).
	bucketedIDs []uint32
	region      []uint32 // per node with children, by kid rank (lineOf): bytes they take
	// info and strides replace the per-node arrays for write (packInfo).
	info    []uint32          // per node: label length | dictOf<<8 | nk8<<16 | pairOf8<<24
	strides []strideAt        // per labelStride nodes: where the first's label starts, and kid rank
	dirAt   map[uint32]uint32 // per bucketed node (few): its directory index
	// dir is the bucket directories, filled by measure (fingerprints, and
	// each bucket's first child) and write (the first child's offset).
	dir []uint32
	// bucketTabs is sortByBucket's counters, allocated once.
	bucketTabs []uint32
	out        []byte
	pairIdx    map[pairKey]uint32
	altRules   []ruleVal // candidates that win no slot (pairTable)
	pairOf     []uint32  // per node: its pair index, unless pairOf8 holds them
	pairOf8    []uint8   // per node: its pair index, when there are at most 256 pairs
	dictOf     []uint8   // per node: its label's dictionary index, or noDict
}

// kidsBig in nk8 says a node's number of children is in bigKids.
const kidsBig = 0xff

// groupKids counts every node's children and lists those of bucketed
// nodes, once the slots are free (pairTable): it frees them first. It
// sizes the bucket directories and region too, so that each is allocated
// once. A child list per node, its start and the parents' array were
// three arrays of 4 bytes a node at the compile's peak; a count is one
// byte, the lists of bucketed nodes 4 bytes a child and region 4 bytes a
// node that has children (one in four of a large list's). A node's
// parent is the last node before it whose depth is one less, so the
// counts and the lists' cursors are kept per depth, for the open path.
func (e *emitter) groupKids() {
	t := e.t
	n := len(t.n)
	scratchFree(t.sc, t.self8)
	scratchFree(t.sc, t.below8)
	scratchFree(t.sc, t.below)
	if e.pairOf8 != nil {
		scratchFree(t.sc, t.self)
	}
	t.self8, t.below8, t.self, t.below = nil, nil, nil, nil
	e.nk8 = scratchMake[uint8](t.sc, n, n)
	e.bigKids, e.orderAt = map[uint32]uint32{}, map[uint32]uint32{}
	setKids := func(id, c uint32) {
		if c >= kidsBig {
			e.nk8[id] = kidsBig
			e.bigKids[id] = c
		} else {
			e.nk8[id] = uint8(c)
		}
	}
	var path [maxDepth + 2]uint32 // path[d]: the open node at depth d
	var kids [maxDepth + 2]uint32 // kids[d]: path[d]'s children so far
	top := 0                      // the depth of the last node
	for id := uint32(1); id < uint32(n); id++ {
		d := int(t.depth[id])
		for ; top >= d; top-- {
			setKids(path[top], kids[top])
		}
		kids[d-1]++
		path[d], kids[d], top = id, 0, d
	}
	for ; top >= 0 && n > 0; top-- {
		setKids(path[top], kids[top])
	}
	listed, dirLen, withKids := 0, 0, 0
	for id := range uint32(n) {
		c := e.numKids(id)
		if c > 0 {
			withKids++
		}
		if nb, big := e.bucketed(c); big {
			e.orderAt[id] = uint32(listed)
			e.bucketedIDs = append(e.bucketedIDs, id)
			listed += c
			dirLen += 2*int(nb) + 1
		}
	}
	e.order = scratchMake[uint32](t.sc, listed, listed)
	var cursor [maxDepth + 2]int64 // where path[d]'s next child goes in order; -1: not bucketed
	cursor[0] = -1
	if at, ok := e.orderAt[0]; ok {
		cursor[0] = int64(at)
	}
	for id := uint32(1); id < uint32(n); id++ {
		d := t.depth[id]
		if at := cursor[d-1]; at >= 0 {
			e.order[at] = id
			cursor[d-1]++
		}
		cursor[d] = -1
		if k := e.nk8[id]; k != 0 && (int(k) > e.o.smallMax || k == kidsBig) { // may be bucketed
			if at, ok := e.orderAt[id]; ok {
				cursor[d] = int64(at)
			}
		}
	}
	e.dir = make([]uint32, 0, dirLen)
	e.region = scratchMake[uint32](t.sc, withKids, withKids)
}

// strideAt is, for the first of labelStride nodes, where its label
// starts in t.packed and its kid rank (lineOf).
type strideAt struct{ label, rank uint32 }

// cursor is a node as write reaches it: its id, where its label starts
// in t.packed and its kid rank (lineOf). The node after a node in id
// order, its first child or the next sibling of a small block, follows
// from the node's own, so only a bucketed block's children, which write
// visits at random, are looked up.
type cursor struct {
	id, rank uint32
	off      int
}

// packInfo packs, for write, each node's label length, dictionary
// index, child count and (for at most 256 pairs) pair index into one
// word of info, and per labelStride nodes the first's label offset and
// kid rank into strides, freeing the arrays they come from as it goes,
// so that the two never peak together. write visits a bucketed block's
// children in bucket order, at random in id order: each child's record
// read a line of each of those four arrays, of labelAt, and of the line
// of 64 child counts and its kid rank, where it now reads one word and
// its stride's entry, and sums its stride's label lengths and child
// counts from the line of info it is in.
func (e *emitter) packInfo() {
	t := e.t
	n := len(t.n)
	e.info = scratchMake[uint32](t.sc, n, n)
	e.strides = scratchMake[strideAt](t.sc, n/labelStride+1, n/labelStride+1)
	rank := uint32(0)
	for id := range uint32(n) {
		if id%labelStride == 0 {
			e.strides[id/labelStride] = strideAt{t.labelAt[id/labelStride], rank}
		}
		w := uint32(t.n[id]) | uint32(e.dictOf[id])<<8 | uint32(e.nk8[id])<<16
		if e.pairOf8 != nil {
			w |= uint32(e.pairOf8[id]) << 24
		}
		e.info[id] = w
		if e.nk8[id] != 0 {
			rank++
		}
		if (id+1)%releaseNodes == 0 {
			from := id + 1 - releaseNodes
			releaseRange(t.n, from, id+1)
			releaseRange(e.dictOf, from, id+1)
			releaseRange(e.nk8, from, id+1)
			releaseRange(e.pairOf8, from, id+1)
		}
	}
	if n%labelStride == 0 {
		e.strides[n/labelStride] = strideAt{uint32(len(t.packed) - padBytes), rank}
	}
	scratchFree(t.sc, t.n)
	scratchFree(t.sc, t.labelAt)
	scratchFree(t.sc, e.dictOf)
	scratchFree(t.sc, e.nk8)
	scratchFree(t.sc, e.pairOf8)
	t.n, t.labelAt, e.dictOf, e.nk8, e.pairOf8 = nil, nil, nil, nil, nil
}

// cursorAt returns node id's cursor (lineOf).
func (e *emitter) cursorAt(id uint32) cursor {
	off, rank := e.lineOf(id)
	return cursor{id: id, rank: rank, off: off}
}

// lineOf returns, after packInfo, where node id's label starts in
// t.packed and its kid rank (how many nodes before it have children, its
// index in region if it has some): its stride's, plus the packed lengths
// and the nodes with children before it in the stride, whose words are
// in id's line of info. For the id after the last node it returns the
// labels' end and the number of nodes with children, by the same sum.
func (e *emitter) lineOf(id uint32) (off int, rank uint32) {
	st := e.strides[id/labelStride] // the id after the last node too: its stride, or packInfo's closing entry
	off, rank = int(st.label), st.rank
	for _, w := range e.info[id&^(labelStride-1) : id] {
		off += packedBytes(int(w & 0xff))
		if w>>16&0xff != 0 {
			rank++
		}
	}
	return off, rank
}

// numKids returns node id's number of children (before packInfo).
func (e *emitter) numKids(id uint32) int { return e.kidsOf(id, e.nk8[id]) }

// kidsOf returns the number of children of node id whose count byte
// (nk8) is k.
func (e *emitter) kidsOf(id uint32, k uint8) int {
	if k != kidsBig {
		return int(k)
	}
	return int(e.bigKids[id])
}

// fields is what a node's record header holds of it.
type fields struct {
	n, dict int    // label length, dictionary index (or noDict)
	pair    uint32 // pair index
	nk      int    // number of children
}

// fieldsOf returns node id's fields from the per-node arrays (measure).
func (e *emitter) fieldsOf(id uint32) fields {
	return fields{n: int(e.t.n[id]), dict: int(e.dictOf[id]), pair: e.pairAt(id), nk: e.numKids(id)}
}

// infoFields returns node id's fields from info (write, after packInfo).
func (e *emitter) infoFields(id uint32) fields {
	w := e.info[id]
	f := fields{n: int(w & 0xff), dict: int(w >> 8 & 0xff), nk: e.kidsOf(id, uint8(w>>16))}
	if e.pairOf != nil {
		f.pair = e.pairOf[id]
	} else {
		f.pair = w >> 24
	}
	return f
}

// listed returns the children of a bucketed node id with nk of them.
func (e *emitter) listed(id uint32, nk int) []uint32 {
	at := e.orderAt[id]
	return e.order[at : int(at)+nk]
}

// pairAt returns node id's pair index.
func (e *emitter) pairAt(id uint32) uint32 {
	if e.pairOf8 != nil {
		return uint32(e.pairOf8[id])
	}
	return e.pairOf[id]
}

// pairKey is what a node's record points at: its slots' winners and,
// where lists overlap, their candidate groups (view.go).
type pairKey struct {
	p   rulePair
	alt altPair
}

// pairTable deduplicates the nodes' pairs, most frequent first so that the
// commonest take no bytes in a record (states 1 and 2). It returns them
// renumbered into a rule table that holds only the rules in use, and,
// when lists overlap anywhere, each pair's candidate spans in alts.
func (e *emitter) pairTable() ([]rulePair, []ruleVal, []altSpan, []uint32) {
	t := e.t
	key := func(id uint32) pairKey { return pairKey{p: t.pair(id)} }
	// Neighbouring nodes mostly hold the same pair (one list's action):
	// runs are counted before they go to the map.
	count := map[pairKey]int{}
	var run pairKey
	runLen := 0
	for id := range uint32(len(t.n)) {
		k := key(id)
		if k.p == (rulePair{}) {
			continue
		}
		if runLen > 0 && k == run {
			runLen++
			continue
		}
		if runLen > 0 {
			count[run] += runLen
		}
		run, runLen = k, 1
	}
	if runLen > 0 {
		count[run] += runLen
	}
	// Nodes with candidates are few: move them to their own keys.
	for id, ap := range t.alt {
		k := key(id)
		if count[k]--; count[k] == 0 {
			delete(count, k)
		}
		k.alt = ap
		count[k]++
	}
	pairs := make([]pairKey, 0, len(count)+1)
	for k := range count {
		pairs = append(pairs, k)
	}
	slices.SortFunc(pairs, func(a, b pairKey) int {
		return cmp.Or(
			cmp.Compare(count[b], count[a]),
			cmp.Compare(a.p.self, b.p.self),
			cmp.Compare(a.p.below, b.p.below),
			cmp.Compare(a.alt.self, b.alt.self),
			cmp.Compare(a.alt.below, b.alt.below),
		)
	})
	pairs = slices.Insert(pairs, 0, pairKey{})
	e.pairIdx = make(map[pairKey]uint32, len(pairs))
	rules := []ruleVal{{}}
	renum := map[uint32]uint32{0: 0}
	use := func(ri uint32) uint32 {
		n, ok := renum[ri]
		if !ok {
			n = uint32(len(rules))
			rules = append(rules, t.rules[ri])
			renum[ri] = n
		}
		return n
	}
	out := make([]rulePair, len(pairs))
	var spans []altSpan
	var alts []uint32
	if len(t.alt) > 0 {
		spans = make([]altSpan, len(pairs))
	}
	for i, k := range pairs {
		e.pairIdx[k] = uint32(i)
		out[i] = rulePair{use(k.p.self), use(k.p.below)}
	}
	// Candidates that never win a slot are numbered after the winners and
	// kept apart (Set.altRules), so the rule table, and the snapshot of
	// it, is what it was without views.
	var altRules []ruleVal
	useAlt := func(ri uint32) uint32 {
		n, ok := renum[ri]
		if !ok {
			n = uint32(len(rules) + len(altRules))
			altRules = append(altRules, t.rules[ri])
			renum[ri] = n
		}
		return n
	}
	group := func(g uint32) (at, n uint32) {
		at = uint32(len(alts))
		if g != 0 {
			for _, m := range t.groups[g-1] {
				alts = append(alts, useAlt(m))
			}
		}
		return at, uint32(len(alts)) - at
	}
	for i, k := range pairs {
		if spans != nil {
			sp := &spans[i]
			sp.selfAt, sp.selfN = group(k.alt.self)
			sp.belowAt, sp.belowN = group(k.alt.below)
		}
	}
	// Most sets have a handful of pairs: then a byte a node holds its
	// pair index. Else 4 bytes do, over the node's own self slot (read
	// first) if the slots are 4 bytes.
	n := len(t.n)
	switch {
	case len(pairs) <= 1<<8:
		e.pairOf8 = scratchMake[uint8](t.sc, n, n)
	case t.narrow:
		e.pairOf = scratchMake[uint32](t.sc, n, n)
	default:
		e.pairOf = t.self
	}
	// Nodes without a rule (most inner ones) and the last rule's pair
	// alternate: each is looked up once per run of it, not once a switch.
	none := e.pairIdx[pairKey{}]
	var last pairKey
	lastIdx := none
	for id := range uint32(n) {
		k := key(id)
		if len(t.alt) > 0 {
			k.alt = t.alt[id]
		}
		idx := none
		if k != (pairKey{}) {
			if k != last {
				last, lastIdx = k, e.pairIdx[k]
			}
			idx = lastIdx
		}
		if e.pairOf8 != nil {
			e.pairOf8[id] = uint8(idx)
		} else {
			e.pairOf[id] = idx
		}
	}
	e.altRules = altRules
	return out, rules, spans, alts
}

// noDict marks a node whose label is not in the dictionary (maxDict is
// less, so an index fits a byte).
const noDict = 0xff

var _ = [noDict - maxDict]struct{}{} // maxDict <= noDict: build fails otherwise

// dictDepth is the shallowest depth whose labels may go to the dictionary:
// labels that repeat under many parents (www, cdn, mail) sit below
// registrable domains; TLD and second-level labels are mostly unique.
const dictDepth = 3

// keyBytes is the longest label the dictionary considers (two words).
const keyBytes = 128 / 6

// minDictUses is the fewest uses with which a dictionary entry can gain:
// an entry costs 64 bytes and a use saves at most 16 (a keyBytes label).
const minDictUses = 64/16 + 1

// sketchSize is the power of two of counters dictionary's first count
// uses for n labels: at least twice as many, so that unique labels rarely
// share one.
func sketchSize(labels int) int {
	n := 1 << 10
	for n < 2*labels {
		n <<= 1
	}
	return n
}

// dictAhead is how many labels ahead dictionary prefetches their
// counters: enough misses in flight to cover one's latency.
const dictAhead = 16

// dictionary picks the labels that save most bytes when stored once.
func (e *emitter) dictionary() []dictLabel {
	t := e.t
	type label = dictKey
	// The loops below visit the nodes in id order, which is the order of
	// their labels in t.packed: off follows them, rather than labelOff.
	key := func(id, off int) (label, bool) {
		if t.depth[id] < dictDepth || t.n[id] > keyBytes {
			return label{}, false
		}
		w := e.wordsAt(off, int(t.n[id]))
		return label{uint32(t.n[id]), w[0], w[1]}, true
	}
	// Only a label seen at least minDictUses times can gain. Most deep
	// labels are unique: count them first in a small table of saturating
	// counters by hash (which can only overcount), so that the exact
	// count below holds the few that may gain rather than every label (a
	// map of millions of labels was most of a large build's memory).
	deep := 0
	for id := range t.depth {
		if t.depth[id] >= dictDepth && t.n[id] <= keyBytes {
			deep++
		}
	}
	sketch := scratchMake[uint8](t.sc, sketchSize(deep), sketchSize(deep))
	hash := func(k label) uint64 {
		h := (uint64(k.n)*0x9e3779b97f4a7c15 ^ k.w0) * 0xbf58476d1ce4e5b9
		h = (h ^ h>>31 ^ k.w1) * 0x94d049bb133111eb
		return h ^ h>>29
	}
	// The counters are read at random, and at 10M names they are 16 MiB,
	// past the L2 cache: a miss a deep label was most of the dictionary's
	// time (16 times 1M names' for 10 times the labels). So each pass
	// prefetches a label's counter dictAhead labels before it visits it.
	type pending struct {
		c  *uint8
		k  label
		h  uint64
		id uint32
	}
	pass := func(visit func(p pending)) {
		var ring [dictAhead]pending
		q, off := 0, 0
		for id := range t.depth {
			if k, ok := key(id, off); ok {
				h := hash(k)
				c := &sketch[h&uint64(len(sketch)-1)]
				prefetch(c)
				if q >= dictAhead {
					visit(ring[q%dictAhead])
				}
				ring[q%dictAhead] = pending{c, k, h, uint32(id)}
				q++
			}
			off += packedBytes(int(t.n[id]))
		}
		for i := max(0, q-dictAhead); i < q; i++ {
			visit(ring[i%dictAhead])
		}
	}
	pass(func(p pending) {
		if *p.c < 255 {
			*p.c++
		}
	})
	// The labels that may gain are numbered as they are first met (cl,
	// found through an open-addressed table by the hash already at hand:
	// a map's hash and probe for each of their millions of uses was a
	// third of this pass) and counted, and each of their nodes is listed
	// with its label's number (uses, in id order), so that the last pass
	// sets those nodes alone, rather than reading every label again.
	var cl candLabels
	uses := scratchMake[uint64](t.sc, 0, deep)
	pass(func(p pending) {
		if *p.c >= minDictUses {
			ci := cl.add(p.k, p.h)
			uses = append(uses, uint64(p.id)<<32|uint64(ci))
		}
	})
	scratchFree(t.sc, sketch)
	sketch = nil
	type cand struct {
		l    label
		gain int
		ci   uint32
	}
	var cands []cand
	for ci, l := range cl.labels {
		// A reference costs one byte instead of the packed label (and the
		// extended length byte of a long one); an entry costs its struct.
		per := packedBytes(int(l.n)) - 1
		if l.n > hdrLenMask {
			per++
		}
		if g := cl.count[ci]*per - 64; g > 0 {
			cands = append(cands, cand{label(l), g, uint32(ci)})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(
			cmp.Compare(b.gain, a.gain),
			cmp.Compare(a.l.n, b.l.n),
			cmp.Compare(a.l.w0, b.l.w0),
			cmp.Compare(a.l.w1, b.l.w1),
		)
	})
	if len(cands) > maxDict {
		cands = cands[:maxDict]
	}
	dict := make([]dictLabel, len(cands))
	idx := make([]uint8, len(cl.labels)) // per candidate label: its dictionary index, or noDict
	for i := range idx {
		idx[i] = noDict
	}
	for i, c := range cands {
		dict[i] = dictLabel{w: packedLabel{c.l.w0, c.l.w1}, n: int(c.l.n)}
		idx[c.ci] = uint8(i)
	}
	e.dictOf = scratchMake[uint8](t.sc, len(t.n), len(t.n))
	for id := range e.dictOf {
		e.dictOf[id] = noDict
	}
	for _, u := range uses {
		if i := idx[uint32(u)]; i != noDict {
			e.dictOf[u>>32] = i
		}
	}
	scratchFree(t.sc, uses)
	return dict
}

// dictKey is a label dictionary considers: its length and packed words.
type dictKey struct {
	n      uint32
	w0, w1 uint64
}

// candLabels numbers and counts dictionary's candidate labels: an
// open-addressed table (linear probing, at most half full) of indexes
// into labels, probed by the label's hash.
type candLabels struct {
	labels []dictKey
	hashes []uint64
	count  []int
	tab    []uint32 // index+1 into labels; 0: empty
}

// add counts a use of label k of hash h and returns its number.
func (cl *candLabels) add(k dictKey, h uint64) uint32 {
	if 2*(len(cl.labels)+1) > len(cl.tab) {
		cl.grow()
	}
	mask := uint64(len(cl.tab) - 1)
	for i := h >> 32 & mask; ; i = (i + 1) & mask {
		switch j := cl.tab[i]; {
		case j == 0:
			cl.tab[i] = uint32(len(cl.labels)) + 1
			cl.labels = append(cl.labels, k)
			cl.hashes = append(cl.hashes, h)
			cl.count = append(cl.count, 1)
			return uint32(len(cl.labels)) - 1
		case cl.hashes[j-1] == h && cl.labels[j-1] == k:
			cl.count[j-1]++
			return j - 1
		}
	}
}

// grow doubles the table and places the labels in it again.
func (cl *candLabels) grow() {
	cl.tab = make([]uint32, max(1024, 2*len(cl.tab)))
	mask := uint64(len(cl.tab) - 1)
	for j, h := range cl.hashes {
		i := h >> 32 & mask
		for cl.tab[i] != 0 {
			i = (i + 1) & mask
		}
		cl.tab[i] = uint32(j) + 1
	}
}

// bucketed reports whether a node with n children gets hash buckets, and
// how many.
func (e *emitter) bucketed(n int) (uint32, bool) {
	if n == 0 || n <= e.o.smallMax {
		return 0, false
	}
	return uint32((10*n + e.o.perBucket - 1) / e.o.perBucket), true
}

// wordsAt returns the packed label of n characters at off in t.packed.
func (e *emitter) wordsAt(off, n int) (w packedLabel) {
	b := e.t.packed[off:]
	for i := 0; 8*i < packedBytes(n); i++ {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
		if rem := 6*n - 64*i; rem < 64 {
			w[i] &= 1<<uint(rem) - 1
		}
	}
	return w
}

// appendLabel appends node id's packed label; a label of up to 21
// characters (nearly all) is copied as one or two words rather than
// through memmove. The bytes past the label are overwritten by the next
// record, or cleared past the end (compile); t.packed has padBytes after
// its last label, so the second word's load stays within it.
func (e *emitter) appendLabel(out []byte, at, n int) []byte {
	nb := packedBytes(n)
	l := len(out)
	switch room := cap(out) - l; {
	case nb <= 8 && room >= 8:
		binary.LittleEndian.PutUint64(out[l:l+8], binary.LittleEndian.Uint64(e.t.packed[at:]))
		return out[:l+nb]
	case nb <= 16 && room >= 16:
		binary.LittleEndian.PutUint64(out[l:l+8], binary.LittleEndian.Uint64(e.t.packed[at:]))
		binary.LittleEndian.PutUint64(out[l+8:l+16], binary.LittleEndian.Uint64(e.t.packed[at+8:]))
		return out[:l+nb]
	}
	return append(out, e.t.packed[at:at+nb]...)
}

// measure orders the nodes' children, reserves their bucket directories,
// and returns the bytes all records will take, leaving each node's
// children's share in e.region. Nodes are in depth-first order (a node's
// subtree follows it), so one pass in id order with a stack of the open
// ancestors does it: a node is closed, and its size known, when the next
// node is not deeper. That is the order a recursive walk would close
// them in, and no call per node is made. The depths are not read again:
// they are freed.
func (e *emitter) measure() (uint64, error) {
	type open struct {
		id     uint32
		rank   uint32 // its kid rank, if it has children
		depth  uint8
		region uint64
	}
	t := e.t
	defer func() { scratchFree(t.sc, t.depth); t.depth = nil }()
	stack := make([]open, 0, maxDepth+1)
	var total uint64
	closeTop := func() error {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top.region > math.MaxUint32 {
			return errors.New("the compiled set exceeds 4 GiB; split the lists")
		}
		id := top.id
		f := e.fieldsOf(id)
		nk := f.nk
		if nk > 0 {
			e.region[top.rank] = uint32(top.region)
		}
		if nb, big := e.bucketed(nk); big {
			e.dirAt[id] = uint32(len(e.dir))
			if err := e.sortByBucket(e.listed(id, nk), nb); err != nil {
				return err
			}
		}
		// Small blocks keep the order of their nodes (key order).
		size := uint64(e.headerLen(id, f, uint32(top.region))) + top.region
		if len(stack) > 0 {
			stack[len(stack)-1].region += size
		} else {
			total = size
		}
		return nil
	}
	rank := uint32(0)
	for id := range uint32(len(t.n)) {
		d := t.depth[id]
		for len(stack) > 0 && stack[len(stack)-1].depth >= d {
			if err := closeTop(); err != nil {
				return 0, err
			}
		}
		stack = append(stack, open{id: id, rank: rank, depth: d})
		if e.nk8[id] != 0 {
			rank++
		}
	}
	for len(stack) > 0 {
		if err := closeTop(); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// write appends node id's record and, depth first, its children's, and
// returns the node after its subtree: a small block's next child.
func (e *emitter) write(at cursor) cursor {
	id := at.id
	f := e.infoFields(id)
	region := uint32(0)
	if f.nk > 0 {
		region = e.region[at.rank]
	}
	e.out = e.appendHeader(e.out, id, f, at.off, region)
	nk := f.nk
	// The node after this one, its first child if it has children.
	c := cursor{id: id + 1, rank: at.rank, off: at.off + packedBytes(f.n)}
	if nk > 0 {
		c.rank++
	}
	nb, big := e.bucketed(nk)
	if !big {
		for range nk {
			next := e.write(c)
			e.releaseSubtree(c, next)
			c = next
		}
		return c
	}
	// Children are in bucket order, and the directory holds the index
	// of each bucket's first child (sortByBucket): make it its offset.
	ks := e.listed(id, nk)
	d := e.dir[e.dirAt[id] : e.dirAt[id]+2*nb+1]
	b := uint32(0)
	end := c
	var ahead [labelAhead]cursor // the children prefetchLabel has looked up
	for j := range min(labelAhead, len(ks)) {
		ahead[j] = e.prefetchLabel(ks[j])
	}
	for i := range ks {
		if j := i + writeAhead; j < len(ks) {
			e.prefetchNode(ks[j])
		}
		k := ahead[i%labelAhead]
		if j := i + labelAhead; j < len(ks) {
			ahead[j%labelAhead] = e.prefetchLabel(ks[j])
		}
		for ; b <= nb && d[2*b] == uint32(i); b++ {
			d[2*b] = uint32(len(e.out))
		}
		next := e.write(k)
		e.releaseSubtree(k, next)
		if next.id > end.id {
			end = next
		}
		// The list is read in order: its pages go as it is, rather
		// than with the whole block (a TLD's: 4 bytes a child).
		if (i+1)%releaseNodes == 0 {
			releaseRange(ks, uint32(i+1-releaseNodes), uint32(i+1))
		}
	}
	for ; b <= nb; b++ {
		d[2*b] = uint32(len(e.out))
	}
	return end
}

// releaseSubtree releases the pages of the per-node arrays of the
// written subtree of nodes [from, to), if it is large: its records are
// written and nothing reads its nodes again (a node outside it reads the
// line of 64 child counts and the stride of 16 lengths it is in, which
// releasePages keeps, as it keeps every page the range shares). So the
// arrays shrink as the records grow, and the two never peak together.
func (e *emitter) releaseSubtree(from, to cursor) {
	if to.id-from.id < releaseNodes {
		return
	}
	t := e.t
	releaseRange(e.info, from.id, to.id)
	releaseRange(e.pairOf, from.id, to.id)
	releaseRange(t.packed, uint32(from.off), uint32(to.off))
	releaseRange(e.region, from.rank, to.rank)
	// The lists of the bucketed nodes in the range are one run of order.
	i, _ := slices.BinarySearch(e.bucketedIDs, from.id)
	j, _ := slices.BinarySearch(e.bucketedIDs, to.id)
	if i < j {
		end := uint32(len(e.order))
		if j < len(e.bucketedIDs) {
			end = e.orderAt[e.bucketedIDs[j]]
		}
		releaseRange(e.order, e.orderAt[e.bucketedIDs[i]], end)
	}
}

// releaseNodes is the fewest nodes whose arrays releaseSubtree releases:
// a range of fewer holds few whole pages.
const releaseNodes = 1 << 14

// releaseRange releases the whole pages of s[from:to] (releasePages).
func releaseRange[E any](s []E, from, to uint32) {
	if to <= from || int(to) > len(s) {
		return
	}
	r := s[from:to]
	releasePages(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(r))), len(r)*int(unsafe.Sizeof(r[0]))))
}

// freeArrays frees the compile's and the trie's per-node arrays that
// packInfo has not: the records are written.
func (e *emitter) freeArrays() {
	t := e.t
	sc := t.sc
	scratchFree(sc, t.packed)
	scratchFree(sc, e.pairOf)
	scratchFree(sc, e.order)
	scratchFree(sc, e.region)
	scratchFree(sc, e.info)
	scratchFree(sc, e.strides)
	t.packed = nil
	e.pairOf, e.order, e.region, e.info, e.strides = nil, nil, nil, nil, nil
}

// writeAhead is how many children of a bucketed block ahead write
// prefetches what their records read (prefetchNode); at labelAhead, with
// the line of info and the stride's entry in cache by then, their labels
// and regions (prefetchLabel).
const writeAhead = 16

// labelAhead is how many children ahead write prefetches their labels
// and regions (prefetchLabel), which it looks up once, for both.
const labelAhead = writeAhead / 4

// prefetchNode prefetches the per-node arrays a record reads at id. A
// bucketed block's children are written in bucket order, which is random
// in id order, and at 10M names the arrays are hundreds of MB: each
// child's record missed the cache in every one of them.
func (e *emitter) prefetchNode(id uint32) {
	prefetch((*byte)(unsafe.Pointer(&e.info[id])))
	prefetch((*byte)(unsafe.Pointer(&e.strides[id/labelStride])))
	if e.pairOf != nil {
		prefetch((*byte)(unsafe.Pointer(&e.pairOf[id])))
	}
}

// prefetchLabel prefetches node id's label and, if it has children,
// their share in region, which need the line of info and the stride's
// entry prefetchNode brought in, and returns the node's cursor, which
// write then uses. Its children's words follow its own (depth-first
// order), in the line prefetchNode brought in or the next. The region's
// line was the one a record read and nothing had prefetched: prefetching
// it took 9% off write at 10M names (1628 -> 1476 ms CPU, best of 3).
func (e *emitter) prefetchLabel(id uint32) cursor {
	c := e.cursorAt(id)
	prefetch(&e.t.packed[c.off])
	if e.info[id]>>16&0xff != 0 {
		prefetch((*byte)(unsafe.Pointer(&e.region[c.rank])))
	}
	return c
}

// sortByBucket orders ks by hash bucket, keeping their order within a
// bucket, and appends the node's bucket directory: per bucket the index
// of its first child, which write turns into an offset, and the
// fingerprints of its records. Hashing each label once, here, keeps a
// bucket and fingerprint per node from living through the compile.
//
// The TLD blocks hold millions of children in millions of buckets: a
// counting sort's scatter into tables of that size missed the cache three
// times a child (at 10M names it was a quarter of the compile). Instead
// each child becomes one word, its bucket, id and fingerprint, sorted in
// place by a most-significant-digit radix sort of bucketDigit-bit digits
// of the bucket (sortBucketKeys), whose tables stay in cache; the
// directory is then filled in one sequential pass. ks is in id order
// (groupKids) and the id is below the bucket in the word, so the words in
// order are the children by bucket and, within a bucket, in ks's order,
// as a stable sort by bucket gives them. In place, as a least-significant
// -digit sort is not, it needs no second array of 8 bytes a child, which
// at the measure's peak was the largest TLD's children's worth.
func (e *emitter) sortByBucket(ks []uint32, nb uint32) error {
	idBits := bits.Len32(ks[len(ks)-1])
	bBits := bits.Len32(nb - 1)
	if idBits+8+bBits > 64 {
		return fmt.Errorf("a name has %d names directly below it; split the lists", len(ks))
	}
	idShift, bShift := uint(8), uint(idBits+8)
	sc := e.t.sc
	keys := scratchMake[uint64](sc, len(ks), len(ks))
	defer scratchFree(sc, keys)
	// ks ascends, mostly a few nodes apart (each child's subtree between
	// them): a label's offset is the last one's plus the lengths between,
	// rather than labelOff's sum over its stride.
	t := e.t
	off, last := 0, uint32(0)
	for i, c := range ks {
		if i == 0 || c-last >= labelStride {
			off = t.labelOff(c)
		} else {
			for id := last; id < c; id++ {
				off += packedBytes(int(t.n[id]))
			}
		}
		last = c
		n := int(t.n[c])
		w := e.wordsAt(off, n)
		h := hashLabel(&w, n, e.o.seed)
		keys[i] = uint64(bucketOf(h, nb))<<bShift | uint64(c)<<idShift | uint64(fingerprint(h))
	}
	if bBits > 0 {
		if e.bucketTabs == nil {
			e.bucketTabs = make([]uint32, bucketTabLevels<<(bucketDigit+1))
		}
		sortBucketKeys(keys, bShift, bShift+uint(bBits), e.bucketTabs)
	}
	at := len(e.dir)
	e.dir = slices.Grow(e.dir, 2*int(nb)+1)[:at+2*int(nb)+1]
	d := e.dir[at:]
	idMask := uint64(1)<<idBits - 1
	b := uint32(0)
	var fp fpWord
	d[0] = 0
	for j, k := range keys {
		for kb := uint32(k >> bShift); b < kb; b++ {
			d[2*b+1], fp = fp.w, fpWord{}
			d[2*b+2] = uint32(j)
		}
		fp.add(byte(k))
		ks[j] = uint32(k >> idShift & idMask)
	}
	for ; b < nb; b++ {
		d[2*b+1], fp = fp.w, fpWord{}
		d[2*b+2] = uint32(len(keys))
	}
	return nil
}

// sortBucketKeys sorts a in place, every word's bits from hi up being
// the same: by the digit of bits [hi-bucketDigit, hi) (or down to lo),
// then each run of one digit by the bits below, down to lo, then by the
// whole word. Keys are unique (the ids), so no stability is needed. Runs
// of up to bucketRunMin words, which a bucket's children mostly are, are
// insertion sorted. tabs holds two tables of 2^bucketDigit counters a
// level of digits; only the digit's share of them is cleared and read,
// as most runs below the first level are a few hundred words.
func sortBucketKeys(a []uint64, lo, hi uint, tabs []uint32) {
	if len(a) <= bucketRunMin {
		for i := 1; i < len(a); i++ {
			v := a[i]
			j := i
			for ; j > 0 && v < a[j-1]; j-- {
				a[j] = a[j-1]
			}
			a[j] = v
		}
		return
	}
	if hi <= lo || len(tabs) < 2<<bucketDigit { // a bucket of more than bucketRunMin children
		slices.Sort(a)
		return
	}
	shift := lo
	if hi-lo > bucketDigit {
		shift = hi - bucketDigit
	}
	nd := 1 << (hi - shift)
	mask := uint64(nd - 1)
	count, next := tabs[:nd], tabs[1<<bucketDigit:][:nd]
	clear(count)
	for _, k := range a {
		count[k>>shift&mask]++
	}
	at := uint32(0)
	for c := range count {
		next[c] = at
		at += count[c]
	}
	end := uint32(0)
	for c := range count {
		end += count[c] // digit c's run ends where c+1's starts
		for next[c] < end {
			v := a[next[c]]
			for dv := v >> shift & mask; dv != uint64(c); dv = v >> shift & mask {
				v, a[next[dv]] = a[next[dv]], v
				next[dv]++
			}
			a[next[c]] = v
			next[c]++
		}
	}
	start := uint32(0)
	for c := range count {
		if n := count[c]; n > 1 {
			sortBucketKeys(a[start:start+n], lo, shift, tabs[2<<bucketDigit:])
		}
		start += count[c]
	}
}

// bucketTabLevels is how many levels of digits sortBucketKeys's tables
// hold: a bucket index has at most 32 bits.
const bucketTabLevels = (32 + bucketDigit - 1) / bucketDigit

// bucketRunMin is the run sortBucketKeys sorts by insertion.
const bucketRunMin = 32

// bucketDigit is the bits sortByBucket sorts by in a pass: its table of
// 2^bucketDigit counters, and as many places it writes to, stay in cache.
const bucketDigit = 11

// headerLen is the length of what appendHeader appends, for a node whose
// children take region bytes.
func (e *emitter) headerLen(id uint32, f fields, region uint32) int {
	n := 1
	switch l := f.n; {
	case f.dict != noDict:
		n++
	case l >= 1 && l <= hdrLenMask:
		n += packedBytes(l)
	default:
		n += 1 + packedBytes(l)
	}
	if pi := f.pair; pi >= stateExplicit {
		n += uvarintLen(uint64(pi))
	}
	if nk := f.nk; nk > 0 {
		if nb, big := e.bucketed(nk); big {
			n += uvarintLen(uint64(nb)<<1|1) + uvarintLen(uint64(e.dirAt[id]))
		} else {
			n += uvarintLen(uint64(nk) << 1)
		}
		n += uvarintLen(uint64(region))
	}
	return n
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// appendHeader appends node id's record up to its children, of fields
// f, its label at off in t.packed and its children taking region bytes.
func (e *emitter) appendHeader(out []byte, id uint32, f fields, off int, region uint32) []byte {
	n := f.n
	nk := f.nk

	var h byte
	if nk > 0 {
		h |= hdrKids
	}
	pi := f.pair
	st := min(pi, stateExplicit)
	h |= byte(st) << hdrStateShift

	di := f.dict
	switch {
	case di != noDict:
		out = append(out, h, byte(extDict+di))
	case n >= 1 && n <= hdrLenMask:
		out = append(out, h|byte(n))
		out = e.appendLabel(out, off, n)
	default:
		out = append(out, h, byte(n))
		out = e.appendLabel(out, off, n)
	}
	if st == stateExplicit {
		out = binary.AppendUvarint(out, uint64(pi))
	}
	if nk > 0 {
		if nb, big := e.bucketed(nk); big {
			out = binary.AppendUvarint(out, uint64(nb)<<1|1)
			out = binary.AppendUvarint(out, uint64(e.dirAt[id]))
		} else {
			out = binary.AppendUvarint(out, uint64(nk)<<1)
		}
		out = binary.AppendUvarint(out, uint64(region))
	}
	return out
}

// exact copies s into an array of exactly its length, so that a Set holds
// no spare capacity and SizeBytes is what it costs.
func exact[T any](s []T) []T {
	if len(s) == cap(s) {
		return s
	}
	r := make([]T, len(s))
	copy(r, s)
	return r
}
