package blocklist

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Builder collects rules and compiles them into a Set. Rules go into an
// uncompressed trie as they are added, in order (a few at a time), because
// that order breaks ties: the first list in config order decides the
// action. The builder keeps no reference to the names it is given beyond
// the last few, until Build. A Builder is not safe for concurrent use.
type Builder struct {
	t    *tree
	n    int
	opts layoutOpts
	// pending holds up to addBatchLen validated rules not yet in t: they
	// go in together (builderbatch.go). Whatever reads t flushes first.
	pending []pendingRule
}

// layoutOpts are the layout knobs. Tests shrink them to push small inputs
// through the bucketed code paths; zero means the default.
type layoutOpts struct {
	smallMax  int    // children scanned linearly; more get hash buckets
	perBucket int    // mean children per hash bucket, in tenths
	seed      uint64 // bucket hash seed; 0 picks a random one per Build
}

const (
	defaultSmallMax  = 8
	defaultPerBucket = 25
)

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{t: newTree()}
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
	b.pending = append(b.pending, pendingRule{name, ruleVal{payload: r.Payload, allow: r.Allow, scope: r.Scope}})
	if len(b.pending) == addBatchLen {
		b.flush()
	}
	b.n++
	return nil
}

// flush inserts the pending rules into the tree.
func (b *Builder) flush() {
	if len(b.pending) > 0 {
		b.t.addBatch(b.pending)
		clear(b.pending) // drop the names: the builder keeps none
		b.pending = b.pending[:0]
	}
}

// Grow reserves room for about n more rules, as feeds know how many lines
// they hold: it saves growing the builder's tables step by step, which is
// a good part of the cost of building a large set.
func (b *Builder) Grow(n int) {
	if n > 0 {
		b.t.grow(n)
	}
}

// Len returns the number of rules added so far.
func (b *Builder) Len() int { return b.n }

// Build compiles the rules added so far into a Set. The Builder stays
// usable: more rules may be added and Build called again.
func (b *Builder) Build() (*Set, error) { return b.build(false) }

// Finish is Build for the last time: the compile reuses the builder's
// arrays, so a large build's peak is the builder alone rather than the
// builder and the compile's tables (a third less), and the Builder is
// empty afterwards.
func (b *Builder) Finish() (*Set, error) {
	s, err := b.build(true)
	b.t, b.n = newTree(), 0
	return s, err
}

func (b *Builder) build(consume bool) (*Set, error) {
	b.flush()
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
	s, err := b.t.compile(o, consume)
	if err != nil {
		return nil, fmt.Errorf("building blocklist of %d rules: %w", b.n, err)
	}
	return s, nil
}

// tree is the builder's uncompressed trie: nodes in parallel arrays,
// indexed by id, found by (parent, label). Node 0 is the root. It holds no
// pointers per node, so a million rules cost the GC little.
type tree struct {
	parent []uint32
	n      []uint8 // label length
	depth  []uint8
	self   []uint32 // rule indexes, 0 = none
	below  []uint32
	// packed holds every node's label packed (label.go), in id order,
	// followed by padBytes zero bytes for whole-word loads; labelAt holds
	// where every labelStride-th node's label starts (labelOff).
	packed  []byte
	labelAt []uint32

	idx     nodeIndex
	touched uint32 // addBatch's sink for its cache touches
	rules   []ruleVal
	ruleID  map[ruleVal]uint32
	last    ruleVal // the previous rule's value and index: lists add
	lastID  uint32  // runs of rules with one payload

	// Where rules of two or more lists meet at a slot, alt holds the
	// node's candidate groups (view.go); only such nodes have an entry.
	alt      map[uint32]altPair
	groups   [][]uint32 // group id-1 -> rule indexes, best first, one per list
	groupID  map[string]uint32
	groupBuf []uint32
	groupKey []byte
}

func newTree() *tree {
	return &tree{
		parent:  []uint32{0},
		n:       []uint8{0},
		depth:   []uint8{0},
		self:    []uint32{0},
		below:   []uint32{0},
		packed:  make([]byte, padBytes),
		labelAt: []uint32{0},
		idx:     newNodeIndex(),
		rules:   []ruleVal{{}},
		ruleID:  map[ruleVal]uint32{},
		alt:     map[uint32]altPair{},
		groupID: map[string]uint32{},
	}
}

// grow makes room for about n more rules, each about 1.5 nodes (the
// shape of real lists: a registrable name, sometimes a subdomain).
func (t *tree) grow(n int) {
	nodes := n + n/2
	t.parent = slices.Grow(t.parent, nodes)
	t.n = slices.Grow(t.n, nodes)
	t.depth = slices.Grow(t.depth, nodes)
	t.self = slices.Grow(t.self, nodes)
	t.below = slices.Grow(t.below, nodes)
	t.labelAt = slices.Grow(t.labelAt, nodes/labelStride+1)
	t.packed = slices.Grow(t.packed, 8*nodes)
	t.reserve(len(t.parent) + nodes)
}

// add inserts a rule whose name is canonical, keeping at each node the
// winning rule per slot (docs/ARCHITECTURE.md: exact beats subtree at the same name,
// then allow beats block, then the first added wins) and, where lists
// overlap, each list's own best rule for MatchView.
func (t *tree) add(name string, v ruleVal) {
	cur := uint32(0)
	for end := len(name); end > 0; {
		var w packedLabel
		start, n, _ := nextLabel(name, end, &w) // canonical: always a label
		cur = t.childOf(cur, n, &w)
		end = start - 1
	}
	t.put(cur, v, v.scope != Below, v.scope != Exact)
}

// childOf returns the child of node cur labelled w (n characters),
// creating it if needed.
func (t *tree) childOf(cur uint32, n int, w *packedLabel) uint32 {
	id, slot, ok := t.find(cur, n, w)
	if ok {
		return id
	}
	id = uint32(len(t.parent))
	t.parent = append(t.parent, cur)
	t.n = append(t.n, uint8(n))
	t.depth = append(t.depth, t.depth[cur]+1)
	t.self = append(t.self, 0)
	t.below = append(t.below, 0)
	at := len(t.packed) - padBytes
	if id%labelStride == 0 {
		t.labelAt = append(t.labelAt, uint32(at))
	}
	t.packed = appendPacked(t.packed[:at], w, n)
	t.packed = append(t.packed, make([]byte, padBytes)...)
	t.insert(id, slot)
	return id
}

// labelStride is how many nodes share an entry of labelAt. An offset per
// node cost 4 bytes a node, a tenth of a large build's memory at its peak;
// one per 16 costs a quarter byte, and finding a label sums at most 15
// lengths from one cache line of t.n, which find has just read.
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

// put offers rule v to node cur's self and/or below slot; it takes a slot
// only by ranking strictly higher than the rule already there, so the
// first rule added wins ties.
func (t *tree) put(cur uint32, v ruleVal, self, below bool) {
	ri := t.lastID
	if ri == 0 || v != t.last {
		var ok bool
		if ri, ok = t.ruleID[v]; !ok {
			ri = uint32(len(t.rules))
			t.rules = append(t.rules, v)
			t.ruleID[v] = ri
		}
		t.last, t.lastID = v, ri
	}
	if self {
		t.offer(cur, ri, false)
	}
	if below {
		t.offer(cur, ri, true)
	}
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
