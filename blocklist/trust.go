package blocklist

// Feed trust (docs/ARCHITECTURE.md, "The matching contract"): an allow
// rule inside a block list (adblock "@@", RPZ passthru) lifts only that
// list's own blocks, so that a compromised or careless feed cannot switch
// off the protection other feeds give. RPZ zones keep the specification's
// zone order: an earlier zone's passthru also lifts later zones' blocks,
// never the reverse. Only allowlists (ListInfo.Allow) lift globally.

// Decide returns the rule deciding qname for the table under feed trust:
// Set.Match, unless that is an allow rule of a block list, in which case
// the other lists it cannot lift decide (Set.MatchView without it), or a
// block of an RPZ zone that an earlier zone passes (at a broader name:
// the first zone that matches decides, draft-vixie-dnsop-dns-rpz §5), in
// which case that passthru decides. It allocates nothing for up to 256
// lists; the extra lookups happen only for names under an in-feed allow
// rule and for names an RPZ zone after another blocks.
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
	if !ok || t.liftsAll(m.Payload.List) || !m.Allow && !t.laterZone(m.Payload.List) {
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
	var allowed Match
	lifted := false
	for range t.Lists {
		if !m.Allow {
			p, passed := t.earlierPassthru(qname, m.Payload.List, w)
			if !passed {
				return m, true
			}
			m = p // the earlier zone's passthru lifts this zone's block
		}
		if !lifted {
			allowed, lifted = m, true
		}
		t.without(w, m.Payload.List)
		n, found := t.Set.MatchView(qname, w)
		switch {
		case !found:
			return allowed, true
		case n.Allow && t.liftsAll(n.Payload.List):
			return n, true
		}
		m = n // another feed's own exception lifts only its blocks too; another block may be lifted
	}
	return allowed, true
}

// laterZone reports whether list is an RPZ zone with an RPZ zone before
// it, whose passthru could lift its blocks.
func (t *Table) laterZone(list uint16) bool {
	if int(list) >= len(t.Lists) || !t.Lists[list].RPZ {
		return false
	}
	for l := range int(list) {
		if t.Lists[l].RPZ {
			return true
		}
	}
	return false
}

// earlierPassthru finds, among the RPZ zones of v before zone list, one
// whose own deciding rule for qname is a passthru: that zone matches
// first, so its passthru lifts zone list's block. (The best rule of the
// earlier zones together, if an allow, is its zone's own best; a block
// there is set aside and the rest asked again.)
func (t *Table) earlierPassthru(qname string, list uint16, v View) (Match, bool) {
	if !t.laterZone(list) {
		return Match{}, false
	}
	var buf [4]uint64
	e := View(buf[:0])
	for l := range int(list) {
		if t.Lists[l].RPZ && v.Has(uint16(l)) {
			e = e.With(uint16(l))
		}
	}
	for range int(list) {
		m, ok := t.Set.MatchView(qname, e)
		switch {
		case !ok:
			return Match{}, false
		case m.Allow:
			return m, true
		}
		e.clear(m.Payload.List)
	}
	return Match{}, false
}

// liftsAll reports whether list's allow rules lift every list's blocks:
// an allowlist (or an index the table does not describe).
func (t *Table) liftsAll(list uint16) bool {
	return int(list) >= len(t.Lists) || t.Lists[list].Allow
}

// without removes from v the lists whose blocks an allow rule of list
// lifts: the list itself and, for an RPZ zone, every later zone.
func (t *Table) without(v View, list uint16) {
	v.clear(list)
	if int(list) < len(t.Lists) && t.Lists[list].RPZ {
		for l := int(list) + 1; l < len(t.Lists); l++ {
			if t.Lists[l].RPZ {
				v.clear(uint16(l))
			}
		}
	}
}

// clear removes list from v, in place.
func (v View) clear(list uint16) {
	if w := int(list >> 6); w < len(v) {
		v[w] &^= 1 << (list & 63)
	}
}
