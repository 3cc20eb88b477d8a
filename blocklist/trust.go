package blocklist

// Feed trust (docs/ARCHITECTURE.md, "The matching contract"): an allow
// rule inside a block list (adblock "@@", RPZ passthru) lifts only that
// list's own blocks, so that a compromised or careless feed cannot switch
// off the protection other feeds give. RPZ zones keep the specification's
// zone order: an earlier zone's passthru also lifts later zones' blocks,
// never the reverse. Only allowlists (ListInfo.Allow) lift globally.

// Decide returns the rule deciding qname for the table under feed trust:
// Set.Match, unless that is an allow rule of a block list, in which case
// the other lists it cannot lift decide (Set.MatchView without it). It
// allocates nothing for up to 256 lists; the extra lookups happen only
// for names under an in-feed allow rule.
func (t *Table) Decide(qname string) (Match, bool) { return t.DecideView(qname, nil) }

// DecideView is Decide among the lists of v only (a tenant's view); nil
// means every list.
func (t *Table) DecideView(qname string, v View) (Match, bool) {
	var m Match
	var ok bool
	if v == nil {
		m, ok = t.Set.Match(qname)
	} else {
		m, ok = t.Set.MatchView(qname, v)
	}
	if !ok || !m.Allow || t.liftsAll(m.Payload.List) {
		return m, ok
	}
	var buf [4]uint64
	w := View(buf[:0])
	if v == nil {
		for i := range t.Lists {
			w = w.With(uint16(i))
		}
	} else {
		w = append(w, v...)
	}
	allowed := m
	for range t.Lists {
		t.without(w, m.Payload.List)
		n, found := t.Set.MatchView(qname, w)
		switch {
		case !found:
			return allowed, true
		case !n.Allow || t.liftsAll(n.Payload.List):
			return n, true
		}
		m = n // another feed's own exception: it lifts only its blocks too
	}
	return allowed, true
}

// liftsAll reports whether list's allow rules lift every list's blocks:
// an allowlist (or an index the table does not describe).
func (t *Table) liftsAll(list uint16) bool {
	return int(list) >= len(t.Lists) || t.Lists[list].Allow
}

// without removes from v the lists whose blocks an allow rule of list
// lifts: the list itself and, for an RPZ zone, every later zone.
func (t *Table) without(v View, list uint16) {
	clear := func(l int) {
		if w := l >> 6; w < len(v) {
			v[w] &^= 1 << (l & 63)
		}
	}
	clear(int(list))
	if int(list) < len(t.Lists) && t.Lists[list].RPZ {
		for l := int(list) + 1; l < len(t.Lists); l++ {
			if t.Lists[l].RPZ {
				clear(l)
			}
		}
	}
}
