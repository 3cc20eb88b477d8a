package blocklist

// TEMPORARY naive implementation so that other packages compile while the
// trie is being written. The trie replaces this file entirely.

import (
	"fmt"
	"strings"
)

type slotRule struct {
	set     bool
	allow   bool
	exact   bool
	payload Payload
	scope   Scope
}

// Builder collects rules and builds an immutable Set.
type Builder struct {
	self, below map[string]slotRule
	n           int
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{self: map[string]slotRule{}, below: map[string]slotRule{}}
}

// Add validates r's name and adds the rule.
func (b *Builder) Add(r Rule) error {
	name, err := CanonicalName(r.Name)
	if err != nil {
		return err
	}
	put := func(m map[string]slotRule, exact bool) {
		cur, ok := m[name]
		nr := slotRule{set: true, allow: r.Allow, exact: exact, payload: r.Payload, scope: r.Scope}
		if !ok || (exact && !cur.exact) || (exact == cur.exact && r.Allow && !cur.allow) {
			m[name] = nr
		}
	}
	switch r.Scope {
	case Exact:
		put(b.self, true)
	case Subtree:
		put(b.self, false)
		put(b.below, false)
	case Below:
		put(b.below, false)
	default:
		return fmt.Errorf("unknown scope %d", r.Scope)
	}
	b.n++
	return nil
}

// Build returns the Set.
func (b *Builder) Build() (*Set, error) { return &Set{b: b}, nil }

// Set is the immutable compiled rule set.
type Set struct{ b *Builder }

// Len returns the number of rules.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.b.n
}

// Match returns the deciding rule for qname.
func (s *Set) Match(qname string) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	q := strings.ToLower(strings.TrimSuffix(qname, "."))
	if r, ok := s.b.self[q]; ok {
		return Match{Allow: r.allow, Scope: r.scope, Payload: r.payload, Offset: 0}, true
	}
	for i := 0; i < len(q); i++ {
		if q[i] == '.' {
			if r, ok := s.b.below[q[i+1:]]; ok {
				return Match{Allow: r.allow, Scope: r.scope, Payload: r.payload, Offset: i + 1}, true
			}
		}
	}
	if q != "" {
		if r, ok := s.b.below[""]; ok {
			return Match{Allow: r.allow, Scope: r.scope, Payload: r.payload, Offset: len(q)}, true
		}
	}
	return Match{}, false
}
