package blocklist

import (
	"fmt"
	"math/rand/v2"
)

// Builder collects rules and compiles them into a Set. Rules are kept in
// the order added, because that order breaks ties: the first list in config
// order decides the action. A Builder is not safe for concurrent use.
type Builder struct {
	rules []Rule
	opts  layoutOpts
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
	defaultPerBucket = 20
)

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{}
}

// Add validates r and queues it. The error says what is wrong with the
// rule, so a feed can log it with the line it came from and go on.
func (b *Builder) Add(r Rule) error {
	name, err := CanonicalName(r.Name)
	if err != nil {
		return fmt.Errorf("invalid rule name %q: %w", r.Name, err)
	}
	if r.Scope > Below {
		return fmt.Errorf("rule %q: unknown scope %d (want subtree, exact or below)", r.Name, r.Scope)
	}
	r.Name = name
	b.rules = append(b.rules, r)
	return nil
}

// Len returns the number of rules added so far.
func (b *Builder) Len() int { return len(b.rules) }

// Build compiles the rules added so far into a Set. The Builder stays
// usable: more rules may be added and Build called again.
func (b *Builder) Build() (*Set, error) {
	t := newTree(len(b.rules))
	for i := range b.rules {
		t.add(&b.rules[i])
	}
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
	s, err := t.compile(o)
	if err != nil {
		return nil, fmt.Errorf("building blocklist of %d rules: %w", len(b.rules), err)
	}
	return s, nil
}

// tree is the builder's uncompressed trie: nodes in parallel arrays,
// indexed by id, found by (parent, label). Node 0 is the root.
type tree struct {
	parent []uint32
	label  []string // substrings of the rules' names; no copies
	depth  []uint8
	self   []uint32 // rule indexes, 0 = none
	below  []uint32
	index  map[nodeKey]uint32
	long   map[longKey]uint32
	rules  []ruleVal
	ruleID map[ruleVal]uint32
	last   ruleVal // the previous rule's value and index: lists add
	lastID uint32  // runs of rules with one payload

	// packed holds every node's label packed (label.go), at packedAt[id],
	// so that the layout never packs a label twice.
	packed   []byte
	packedAt []uint32
}

// nodeKey finds a node by its parent and packed label. It holds no
// pointer, so a lookup compares in the map's own memory instead of
// chasing a string, and the GC does not scan the map. Labels of more than
// 21 bytes do not fit and go to the long map.
type nodeKey struct {
	parent uint32
	n      uint32
	w0, w1 uint64
}

type longKey struct {
	parent uint32
	label  string
}

// keyBytes is the longest label a nodeKey holds.
const keyBytes = 128 / 6

func newTree(nrules int) *tree {
	est := nrules + nrules/2 + 1
	t := &tree{
		parent: make([]uint32, 1, est),
		label:  make([]string, 1, est),
		depth:  make([]uint8, 1, est),
		self:   make([]uint32, 1, est),
		below:  make([]uint32, 1, est),
		index:  make(map[nodeKey]uint32, est),
		long:   map[longKey]uint32{},
		rules:  []ruleVal{{}},
		ruleID: map[ruleVal]uint32{},

		packed:   make([]byte, 0, 8*est),
		packedAt: make([]uint32, 1, est),
	}
	return t
}

// add inserts a rule whose name is canonical, keeping at each node only
// the winning rule per slot (DESIGN.md: exact beats subtree at the same
// name, then allow beats block, then the first added wins).
func (t *tree) add(r *Rule) {
	cur := uint32(0)
	name := r.Name
	for end := len(name); end > 0; {
		var w packedLabel
		start, n, _ := nextLabel(name, end, &w) // canonical: always a label
		var id uint32
		var ok bool
		k := nodeKey{parent: cur, n: uint32(n), w0: w[0], w1: w[1]}
		lk := longKey{cur, name[start:end]}
		if n <= keyBytes {
			id, ok = t.index[k]
		} else {
			id, ok = t.long[lk]
		}
		if !ok {
			id = uint32(len(t.parent))
			t.parent = append(t.parent, cur)
			t.label = append(t.label, name[start:end])
			t.depth = append(t.depth, t.depth[cur]+1)
			t.self = append(t.self, 0)
			t.below = append(t.below, 0)
			if n <= keyBytes {
				t.index[k] = id
			} else {
				t.long[lk] = id
			}
			t.packedAt = append(t.packedAt, uint32(len(t.packed)))
			t.packed = appendPacked(t.packed, &w, n)
		}
		cur = id
		end = start - 1
	}
	v := ruleVal{payload: r.Payload, allow: r.Allow, scope: r.Scope}
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
	if r.Scope != Below && (t.self[cur] == 0 || t.selfRank(ri) > t.selfRank(t.self[cur])) {
		t.self[cur] = ri
	}
	if r.Scope != Exact && (t.below[cur] == 0 || t.belowRank(ri) > t.belowRank(t.below[cur])) {
		t.below[cur] = ri
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
