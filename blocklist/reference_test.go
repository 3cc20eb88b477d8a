package blocklist

// refSet is the naive reference the trie is checked against: every rule
// kept in a map by canonical name, and a query answered by looking up each
// of its suffixes, longest first, and ranking the rules found there exactly
// as docs/ARCHITECTURE.md words it. It shares no code with the trie beyond
// CanonicalName.
type refSet struct {
	rules  []Rule
	byName map[string][]int
}

func newRef() *refSet { return &refSet{byName: map[string][]int{}} }

func (r *refSet) add(rule Rule) error {
	name, err := CanonicalName(rule.Name)
	if err != nil {
		return err
	}
	if rule.Scope > Below {
		return errBadScope
	}
	rule.Name = name
	r.byName[name] = append(r.byName[name], len(r.rules))
	r.rules = append(r.rules, rule)
	return nil
}

type refError string

func (e refError) Error() string { return string(e) }

const errBadScope = refError("bad scope")

// rank orders the rules at one name: for the name itself exact beats
// subtree; below it subtree and below rank equal; then allow beats block.
func refRank(rule Rule, self bool) int {
	rank := 0
	if self && rule.Scope == Exact {
		rank = 2
	}
	if rule.Allow {
		rank++
	}
	return rank
}

// best returns the index of the deciding rule at name, or -1.
func (r *refSet) best(name string, self bool) int {
	best := -1
	for _, i := range r.byName[name] {
		rule := r.rules[i]
		if (self && rule.Scope == Below) || (!self && rule.Scope == Exact) {
			continue
		}
		if best < 0 || refRank(rule, self) > refRank(r.rules[best], self) {
			best = i // strictly better only: the first added wins ties
		}
	}
	return best
}

func refEscaped(q string, i int) bool {
	odd := false
	for j := i - 1; j >= 0 && q[j] == '\\'; j-- {
		odd = !odd
	}
	return odd
}

func refLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// walk lists the deciding rule at each suffix of qname, longest first.
func (r *refSet) walk(qname string) []Match {
	q := qname
	if len(q) > 0 && q[len(q)-1] == '.' && !refEscaped(q, len(q)-1) {
		q = q[:len(q)-1]
	}
	lower := refLower(q)
	// Offsets where a suffix starts: the whole name, after every unescaped
	// dot, and the root (the empty suffix at the end).
	offs := []int{0}
	for i := 0; i < len(q); i++ {
		if q[i] == '.' && !refEscaped(q, i) {
			offs = append(offs, i+1)
		}
	}
	if offs[len(offs)-1] != len(q) {
		offs = append(offs, len(q))
	}
	var out []Match
	for _, off := range offs {
		self := off == 0
		if i := r.best(lower[off:], self); i >= 0 {
			rule := r.rules[i]
			out = append(out, Match{Allow: rule.Allow, Scope: rule.Scope, Payload: rule.Payload, Offset: off})
		}
	}
	return out
}

func (r *refSet) match(qname string) (Match, bool) {
	w := r.walk(qname)
	if len(w) == 0 {
		return Match{}, false
	}
	return w[0], true
}

// len counts the distinct rules a set must store: per name, the winner for
// the name itself and the winner below it (one rule if they coincide).
func (r *refSet) len() int {
	n := 0
	for name := range r.byName {
		s, b := r.best(name, true), r.best(name, false)
		switch {
		case s >= 0 && b >= 0 && s != b:
			n += 2
		case s >= 0 || b >= 0:
			n++
		}
	}
	return n
}

// only is the reference holding just the rules of the lists in v, in the
// order they were added: what a tenant with view v must see.
func (r *refSet) only(v View) *refSet {
	out := newRef()
	for _, rule := range r.rules {
		if v.Has(rule.Payload.List) {
			_ = out.add(rule)
		}
	}
	return out
}

// decideTrusted is the reference of Table.Decide (feed trust), written
// from the rule rather than from the algorithm: each block list decides
// for itself; a list's block stands unless an earlier RPZ zone (both
// RPZ) passes the name, or the allowlists with that list alone would let
// the name through. It reports whether the name is blocked and the lists
// whose block stands.
func (r *refSet) decideTrusted(q string, lists []ListInfo) (blocked bool, by map[uint16]bool) {
	by = map[uint16]bool{}
	own := make([]Match, len(lists))
	has := make([]bool, len(lists))
	var allowlists []uint16
	for i, l := range lists {
		if l.Allow {
			allowlists = append(allowlists, uint16(i))
			continue
		}
		own[i], has[i] = r.only(NewView(uint16(i))).match(q)
	}
	for i, l := range lists {
		if l.Allow || !has[i] || own[i].Allow {
			continue
		}
		lifted := false
		for j := 0; j < i; j++ {
			if l.RPZ && lists[j].RPZ && has[j] && own[j].Allow {
				lifted = true // an earlier zone's passthru
			}
		}
		if m, ok := r.only(NewView(append([]uint16{uint16(i)}, allowlists...)...)).match(q); ok && m.Allow {
			lifted = true // an allowlist as specific or more
		}
		if !lifted {
			by[uint16(i)] = true
		}
	}
	return len(by) > 0, by
}
