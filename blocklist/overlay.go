package blocklist

import (
	"fmt"
	"strings"
)

// An overlay lets a handful of changed names (an IXFR, a NOTIFY-driven
// takedown) take effect at once in a large Set without compiling it again:
// WithOverlay returns a Set that shares every array of the base and holds,
// beside them, the complete new state of each changed name. Match on a Set
// without an overlay pays one nil check; with one it walks the trie and
// the overlay together. The feed manager folds the overlay into a freshly
// compiled Set moments later.
type overlay struct {
	nodes map[string]rulePair // canonical name ("" is the root) -> its rules now
	rules []ruleVal           // rules[0] is "none"
	// alts holds, for names where rules of two or more lists meet, every
	// list's best rule of each slot (best first), for MatchView.
	alts map[string]overlayAlts
}

// overlayAlts are one overlay name's candidates, as indexes into rules.
type overlayAlts struct{ self, below []uint32 }

// WithOverlay returns s with the names in names replaced: each name's
// rules become those in rules with that name (none: the name has no rule
// any more), ranked as Builder ranks them (exact beats subtree at the same
// name, then allow beats block, then the first given wins). Every rule's
// name must be in names. s is not changed.
func (s *Set) WithOverlay(names []string, rules []Rule) (*Set, error) {
	b := NewBuilder()
	ov := &overlay{nodes: make(map[string]rulePair, len(names)), alts: map[string]overlayAlts{}}
	for _, r := range rules {
		if err := b.Add(r); err != nil {
			return nil, err
		}
	}
	b.sort()
	nodeOf := make([]uint32, len(b.ents))
	t := b.tree(nodeOf, false, nil)
	for _, n := range names {
		name, err := CanonicalName(n)
		if err != nil {
			return nil, fmt.Errorf("invalid name %q: %w", n, err)
		}
		var p rulePair
		if i, ok := b.findKey(name); ok {
			id := nodeOf[i]
			p = t.pair(id)
			if ap, ok := t.alt[id]; ok {
				ov.alts[name] = overlayAlts{self: t.group(ap.self), below: t.group(ap.below)}
			}
		}
		ov.nodes[name] = p
	}
	for _, r := range rules {
		name, _ := CanonicalName(r.Name)
		if _, ok := ov.nodes[name]; !ok {
			return nil, fmt.Errorf("rule %q is not among the overlay's names", r.Name)
		}
	}
	ov.rules = t.rules
	base := s
	if base == nil {
		base = emptySet()
	}
	if base.ov != nil { // an overlay on an overlay: the newer one wins per name
		for name, p := range base.ov.nodes {
			if _, ok := ov.nodes[name]; ok {
				continue
			}
			ov.nodes[name] = rulePair{self: ov.addRule(base.ov.rules[p.self]), below: ov.addRule(base.ov.rules[p.below])}
			if a, ok := base.ov.alts[name]; ok {
				ov.alts[name] = overlayAlts{self: ov.addRules(base.ov.rules, a.self), below: ov.addRules(base.ov.rules, a.below)}
			}
		}
	}
	ns := *base
	ns.ov = ov
	return &ns, nil
}

// addRule appends v (index 0 stays "none") and returns its index.
func (o *overlay) addRule(v ruleVal) uint32 {
	if v == (ruleVal{}) {
		return 0
	}
	o.rules = append(o.rules, v)
	return uint32(len(o.rules) - 1)
}

// addRules appends the rules of from that idx names and returns their
// new indexes.
func (o *overlay) addRules(from []ruleVal, idx []uint32) []uint32 {
	out := make([]uint32, len(idx))
	for i, ri := range idx {
		out[i] = o.addRule(from[ri])
	}
	return out
}

// group is the candidate group g (1-based; 0: none) of the tree.
func (t *tree) group(g uint32) []uint32 {
	if g == 0 {
		return nil
	}
	return t.groups[g-1]
}

// OverlayLen is the number of names the overlay replaces (0: none).
func (s *Set) OverlayLen() int {
	if s == nil || s.ov == nil {
		return 0
	}
	return len(s.ov.nodes)
}

// emptySet is a compiled Set with no rule, the base of an overlay on a nil
// Set.
func emptySet() *Set {
	s, _ := NewBuilder().Build() // an empty build cannot fail
	return s
}

// matchOverlay is Match (inView false) or MatchView (the lists of v) on a
// Set with an overlay: at each label of qname, from the root down, the
// node's rules are the overlay's if it has the name, else the trie's; the
// trie walk may end before the overlay's names do.
func (s *Set) matchOverlay(qname string, v View, inView bool) (Match, bool) {
	q := strings.ToLower(trimDot(qname))
	type hit struct {
		v   *ruleVal
		off int
	}
	var best hit
	r := s.rootRec
	inTrie := true
	pairAt := func(off int) (self, below *ruleVal) {
		if p, ok := s.ov.nodes[q[off:]]; ok {
			if !inView {
				return s.ov.val(p.self), s.ov.val(p.below)
			}
			a := s.ov.alts[q[off:]]
			return s.ov.pick(p.self, a.self, v), s.ov.pick(p.below, a.below, v)
		}
		if inTrie && !inView {
			p := s.pairs[r.pair]
			return s.val(p.self), s.val(p.below)
		}
		if inTrie {
			p := s.pairs[r.pair]
			return s.valAt(s.inView(r.pair, p.self, false, v)), s.valAt(s.inView(r.pair, p.below, true, v))
		}
		return nil, nil
	}
	off, end := len(q), len(q)
	for {
		self, below := pairAt(off)
		if off == 0 {
			if self != nil {
				return matchOf(self, 0), true
			}
			break
		}
		if below != nil {
			best = hit{below, off}
		}
		var w packedLabel
		start, _, ok := nextLabel(q, end, &w)
		if !ok {
			break
		}
		if inTrie {
			n := end - start
			inTrie = r.x != 0 && s.step(&r, off == len(q), n, &w)
		}
		if !inTrie && !s.ov.hasBelow(q, start) {
			break
		}
		off, end = start, start-1
	}
	if best.v == nil {
		return Match{}, false
	}
	return matchOf(best.v, best.off), true
}

// hasBelow reports whether the overlay has q[off:] or a longer suffix of
// q (at a label boundary), so that the walk must go on past the trie.
func (o *overlay) hasBelow(q string, off int) bool {
	for name := range o.nodes {
		switch {
		case len(name) < len(q)-off:
		case len(name) == len(q):
			if name == q {
				return true
			}
		case strings.HasSuffix(q, name) && q[len(q)-len(name)-1] == '.':
			return true
		}
	}
	return false
}

// pick is the rule of a slot among the lists of v: the winner win if its
// list is in v, else the first candidate that is; nil for none.
func (o *overlay) pick(win uint32, cands []uint32, v View) *ruleVal {
	if win == 0 || v.Has(o.rules[win].payload.List) {
		return o.val(win)
	}
	for _, ri := range cands {
		if v.Has(o.rules[ri].payload.List) {
			return &o.rules[ri]
		}
	}
	return nil
}

// valAt is ruleAt for an index that may be 0 (none).
func (s *Set) valAt(i uint32) *ruleVal {
	if i == 0 {
		return nil
	}
	return s.ruleAt(i)
}

func (o *overlay) val(i uint32) *ruleVal {
	if i == 0 {
		return nil
	}
	return &o.rules[i]
}

func (s *Set) val(i uint32) *ruleVal {
	if i == 0 {
		return nil
	}
	return &s.rules[i]
}

func matchOf(v *ruleVal, off int) Match {
	return Match{Allow: v.allow, Scope: v.scope, Payload: v.payload, Offset: off}
}
