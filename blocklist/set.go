package blocklist

import "unsafe"

// Set is an immutable compiled rule set: a compressed trie over reversed
// labels (com -> example -> www) in flat arrays. It holds no pointers per
// node and no strings, so a million names cost the GC almost nothing, and
// it is never written after Build or ReadSet, so any number of goroutines
// may call Match at once without locks.
type Set struct {
	nodes []byte // node records (record.go), then padBytes zero bytes
	dir   []uint32
	dict  []dictLabel
	rules []ruleVal  // rules[0] is "none"
	pairs []rulePair // pairs[0] is "no rule"
	root  uint32     // offset of the root record
	seed  uint64     // bucket hash seed
	n     int        // distinct rules stored

	// Derived when built or loaded (top.go): the decoded root and the
	// table of its children.
	rootRec  rec
	top      []topSlot
	topShift uint8

	// ov, if set, replaces the rules of a few names (overlay.go).
	ov *overlay

	// Where lists overlap, every list's rule of a pair's slots, for
	// MatchView (view.go); nil when no two lists meet at any node. Last,
	// so that the fields Match reads keep their place.
	alts     []uint32
	altSpans []altSpan // per pair, or nil
	altRules []ruleVal // rules only alts name: rule len(rules)+i
	views    bool      // built here: alts is complete (not a snapshot)
}

// Len returns the number of distinct rules stored, after duplicates and
// fully shadowed rules were dropped.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// SizeBytes returns the heap bytes held by the set's arrays, for the
// memory metrics an operator sizes a machine by.
func (s *Set) SizeBytes() int {
	if s == nil {
		return 0
	}
	return int(unsafe.Sizeof(*s)) +
		cap(s.nodes) +
		cap(s.dir)*int(unsafe.Sizeof(uint32(0))) +
		cap(s.dict)*int(unsafe.Sizeof(dictLabel{})) +
		cap(s.rules)*int(unsafe.Sizeof(ruleVal{})) +
		cap(s.pairs)*int(unsafe.Sizeof(rulePair{})) +
		cap(s.alts)*int(unsafe.Sizeof(uint32(0))) +
		cap(s.altSpans)*int(unsafe.Sizeof(altSpan{})) +
		cap(s.altRules)*int(unsafe.Sizeof(ruleVal{})) +
		s.topBytes()
}

// Match returns the rule that decides qname: the applicable rule at the
// longest matching name (docs/ARCHITECTURE.md). qname is taken as it comes off the
// wire: any case, with or without the trailing dot; "" and "." are the
// root. A label holding bytes no rule can have (miekg/dns escapes such as
// "\032" or "\.", non-ASCII) matches nothing, so only rules above it can
// apply. Match does not allocate and takes no lock.
func (s *Set) Match(qname string) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	if s.ov != nil {
		return s.matchOverlay(qname, nil, false)
	}
	return s.match(qname, nil, false)
}

// match is the one walk down the trie behind Match and MatchView: label by
// label from the top, remembering the deepest below rule met, until qname
// runs out (its node's self rule decides) or the trie does. With inView
// every node's rules are limited to the lists of v; without it a node's
// winners stand.
func (s *Set) match(qname string, v View, inView bool) (Match, bool) {
	q := trimDot(qname)
	r := s.rootRec
	if len(q) == 0 {
		return s.resultAt(s.self(r.pair, v, inView), 0)
	}
	var best uint32
	bestOff := 0
	off, end := len(q), len(q)
	for {
		// Here q is strictly below the node r, which stands for q[off:].
		b := s.pairs[r.pair].below
		if inView {
			b = s.inView(r.pair, b, true, v)
		}
		if b != 0 {
			best, bestOff = b, off
		}
		if r.x == 0 {
			break
		}
		var w packedLabel
		var start, n int
		var ok bool
		if off == len(q) {
			start, n, ok = topLabel(q, &w)
		} else {
			start, n, ok = nextLabel(q, end, &w)
		}
		if !ok || !s.step(&r, off == len(q), n, &w) {
			break
		}
		if start == 0 {
			if self := s.self(r.pair, v, inView); self != 0 {
				return s.resultAt(self, 0)
			}
			break
		}
		off, end = start, start-1
	}
	return s.resultAt(best, bestOff)
}

// self is pair p's self rule, limited to the lists of v with inView.
func (s *Set) self(p uint32, v View, inView bool) uint32 {
	ri := s.pairs[p].self
	if inView {
		ri = s.inView(p, ri, false, v)
	}
	return ri
}

// step moves r to its child labelled w (n characters), if there is one;
// atRoot says r is the root, whose children are in the TLD table.
func (s *Set) step(r *rec, atRoot bool, n int, w *packedLabel) bool {
	if atRoot {
		if c, found, ok := s.topChild(n, w); ok {
			*r = c
			return found
		}
	}
	return s.child(r, n, w)
}

// result turns a rule index into a Match; index 0 is no match.
func (s *Set) result(rule uint32, off int) (Match, bool) {
	if rule == 0 {
		return Match{}, false
	}
	v := &s.rules[rule]
	return Match{Allow: v.allow, Scope: v.scope, Payload: v.payload, Offset: off}, true
}

// Walk calls fn for every stored rule that applies to qname, most specific
// first; the first call is the rule Match returns. It is for `explain`,
// which shows what a broader rule would have done.
func (s *Set) Walk(qname string, fn func(Match)) {
	if s == nil {
		return
	}
	q := trimDot(qname)
	r := s.rootRec
	if len(q) == 0 {
		if m, ok := s.result(s.pairs[r.pair].self, 0); ok {
			fn(m)
		}
		return
	}
	type hit struct {
		rule uint32
		off  int
	}
	var buf [16]hit
	below := buf[:0]
	off, end := len(q), len(q)
	for {
		if b := s.pairs[r.pair].below; b != 0 {
			below = append(below, hit{b, off})
		}
		if r.x == 0 {
			break
		}
		var w packedLabel
		start, n, ok := nextLabel(q, end, &w)
		if !ok || !s.step(&r, off == len(q), n, &w) {
			break
		}
		if start == 0 {
			if m, ok := s.result(s.pairs[r.pair].self, 0); ok {
				fn(m)
			}
			break
		}
		off, end = start, start-1
	}
	for i := len(below) - 1; i >= 0; i-- {
		m, _ := s.result(below[i].rule, below[i].off)
		fn(m)
	}
}
