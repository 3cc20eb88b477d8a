package blocklist

import "fmt"

// AddSet adds every rule of s, as if the rules s was built from were
// added in their order, with remap applied to each rule's payload (nil:
// unchanged). A set keeps only the winning rule of each slot, and a rule
// that won one slot of a name goes back into that slot alone, so a
// Builder fed the compiled sets of several lists in config order builds
// the same set as one fed all their rules in that order. It lets a list
// be kept compiled (a tenth of the memory of its rules) and merged again
// when another list changes, without being parsed again.
func (b *Builder) AddSet(s *Set, remap func(Payload) Payload) error {
	if s == nil {
		return nil
	}
	// The set's names are rebuilt as keys from its records, depth first:
	// key holds the current node's.
	var key []byte
	offer := func(p rulePair) {
		for i, ri := range [2]uint32{p.self, p.below} {
			if ri == 0 {
				continue
			}
			v := s.rules[ri]
			if remap != nil {
				v.payload = remap(v.payload)
			}
			b.addKeyEntry(key, v, i == 0, i == 1)
		}
		b.n += countRules(p)
	}
	// walk offers the rules of the children of r, whose key is key[:at],
	// and of their subtrees, depth first (at most maxDepth deep).
	var walk func(r rec, at int) error
	walk = func(r rec, at int) error {
		// A node's children are contiguous, bucketed or not.
		for p := int(r.kids); p < int(r.end); {
			c, n, w, err := s.parseRecord(p, int(r.end))
			if err != nil { // a Set is validated when built or loaded
				return fmt.Errorf("merging a blocklist set: %w", err)
			}
			key = key[:at]
			if at > 0 {
				key = append(key, 0)
			}
			key = appendUnpacked(key, &w, n)
			offer(s.pairs[c.pair])
			if c.x != 0 {
				if err := walk(c, len(key)); err != nil {
					return err
				}
			}
			p = int(c.end)
		}
		return nil
	}
	root := s.rootRec
	offer(s.pairs[root.pair])
	if root.x == 0 {
		return nil
	}
	return walk(root, 0)
}

// RulesAt returns the rules s holds at name itself (canonical, "" for the
// root): what decides name and the names below it before any rule of a
// longer name, as rules that would build the same slots again. A set
// keeps one rule per slot, so this is at most two rules (one Subtree rule
// when it holds both slots). It lets an overlay (WithOverlay) be built
// from compiled lists. It reads the winners only, not MatchView's
// candidates: meant for the set of one list.
func (s *Set) RulesAt(name string) []Rule {
	if s == nil {
		return nil
	}
	r := s.rootRec
	for end := len(name); end > 0; {
		var w packedLabel
		start, n, ok := nextLabel(name, end, &w)
		if !ok || r.x == 0 || !s.step(&r, end == len(name), n, &w) {
			return nil
		}
		end = start - 1
	}
	// Each slot's winner with its own scope, the below slot's first: a
	// Subtree rule in one slot lost the other to its winner there, which
	// that order keeps (the self slot's winner outranks it strictly).
	p := s.pairs[r.pair]
	var out []Rule
	for _, ri := range [2]uint32{p.below, p.self} {
		if ri == 0 || (ri == p.below && ri == p.self && len(out) > 0) {
			continue
		}
		v := &s.rules[ri]
		out = append(out, Rule{Name: name, Scope: v.scope, Allow: v.allow, Payload: v.payload})
	}
	return out
}
