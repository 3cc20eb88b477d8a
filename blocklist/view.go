package blocklist

// View is a set of list indexes (Payload.List): the lists one tenant uses
// of a Set shared by all of them. It is a bitmask, so a view over the same
// lists costs a few words however large they are.
type View []uint64

// NewView returns the view of the given lists.
func NewView(lists ...uint16) View {
	var v View
	for _, l := range lists {
		v = v.With(l)
	}
	return v
}

// With returns v with list added (v itself when it has room).
func (v View) With(list uint16) View {
	w := int(list >> 6)
	for len(v) <= w {
		v = append(v, 0)
	}
	v[w] |= 1 << (list & 63)
	return v
}

// Has reports whether list is in v.
func (v View) Has(list uint16) bool {
	w := int(list >> 6)
	return w < len(v) && v[w]&(1<<(list&63)) != 0
}

// altSpan locates the candidates of one pair's slots in Set.alts: the
// rules of every list that has one there, best first, one per list.
type altSpan struct {
	selfAt, selfN, belowAt, belowN uint32
}

// MatchView is Match restricted to the rules of the lists in v: the rule
// that would decide qname had only those lists been loaded. Where lists
// overlap, the merged set keeps every list's rule for the slot (see
// tree.offer), so a tenant without the winning list still finds its own.
// Like Match it does not allocate and takes no lock; where the winning
// rule of a node is in v it costs what Match does.
//
// A Set read from a snapshot (ReadSet) does not carry the other lists'
// rules: there MatchView sees only each node's winner (Views is false).
// An IXFR overlay (WithOverlay) is consulted as Match consults it.
func (s *Set) MatchView(qname string, v View) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	if s.ov != nil { // an IXFR's changed names (overlay.go)
		return s.matchOverlay(qname, v, true)
	}
	return s.match(qname, v, true)
}

// ruleAt is rule ri of the winners' table or, past it, of altRules.
func (s *Set) ruleAt(ri uint32) *ruleVal {
	if int(ri) < len(s.rules) {
		return &s.rules[ri]
	}
	return &s.altRules[int(ri)-len(s.rules)]
}

// resultAt is result for a rule index that may name a candidate.
func (s *Set) resultAt(rule uint32, off int) (Match, bool) {
	if rule == 0 {
		return Match{}, false
	}
	v := s.ruleAt(rule)
	return Match{Allow: v.allow, Scope: v.scope, Payload: v.payload, Offset: off}, true
}

// Views reports whether the set knows every list's rule at each node, as
// MatchView needs; false for a set read from a snapshot.
func (s *Set) Views() bool { return s != nil && s.views }

// inView is rule ri of pair p's self (below: its below) slot when its list
// is in v, else the best of the other lists' candidates kept for that slot;
// 0 for none. ri is the node's winner for the slot, which Match takes as
// it is: the view's cost is paid only by MatchView.
func (s *Set) inView(p, ri uint32, below bool, v View) uint32 {
	if ri == 0 || v.Has(s.rules[ri].payload.List) {
		return ri
	}
	if s.altSpans == nil {
		return 0
	}
	a := &s.altSpans[p]
	at, n := a.selfAt, a.selfN
	if below {
		at, n = a.belowAt, a.belowN
	}
	return s.firstIn(s.alts[at:at+n], v)
}

// firstIn returns the first (best) candidate of a list in v.
func (s *Set) firstIn(cands []uint32, v View) uint32 {
	for _, ri := range cands {
		if v.Has(s.ruleAt(ri).payload.List) {
			return ri
		}
	}
	return 0
}

// altPair is a builder node's candidate groups: group ids (1-based
// indexes into tree.groups) of its self and below slots, 0 when the slot
// holds one list's rule only.
type altPair struct {
	self, below uint32
}

// offer puts rule ri into a slot of node cur (below or self), keeping, as
// the slot's winner, the rule Match reports (the higher rank; the first
// added among equals) and, when rules of two or more lists meet there,
// every list's best rule as candidates for MatchView. Candidates are
// interned, so a million overlapping names of the same few lists share a
// handful of groups.
func (t *tree) offer(cur, ri uint32, below bool) {
	rank := t.selfRank
	if below {
		rank = t.belowRank
	}
	w := t.slot(cur, below)
	if w == 0 {
		t.setSlot(cur, below, ri)
		return
	}
	if w == ri {
		return
	}
	ap := t.alt[cur]
	g := &ap.self
	if below {
		g = &ap.below
	}
	list := t.rules[ri].payload.List
	if *g == 0 && t.rules[w].payload.List == list {
		// One list at this slot: the plain rule, no candidates.
		if rank(ri) > rank(w) {
			t.setSlot(cur, below, ri)
		}
		return
	}
	members := []uint32{w}
	if *g != 0 {
		members = t.groups[*g-1]
	}
	rr := rank(ri)
	buf := t.groupBuf[:0]
	placed := false
	for _, m := range members {
		if t.rules[m].payload.List == list {
			if rank(m) >= rr {
				return // the list's own rule here is as good: nothing changes
			}
			continue // ri replaces its list's weaker rule
		}
		if !placed && rr > rank(m) {
			buf = append(buf, ri)
			placed = true
		}
		buf = append(buf, m)
	}
	if !placed {
		buf = append(buf, ri)
	}
	t.groupBuf = buf
	key := t.groupKey[:0]
	for _, m := range buf {
		key = append(key, byte(m), byte(m>>8), byte(m>>16), byte(m>>24))
	}
	t.groupKey = key
	id, ok := t.groupID[string(key)]
	if !ok {
		t.groups = append(t.groups, append([]uint32(nil), buf...))
		id = uint32(len(t.groups))
		t.groupID[string(key)] = id
	}
	*g = id
	t.setSlot(cur, below, buf[0])
	t.alt[cur] = ap
}
