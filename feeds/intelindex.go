package feeds

import "github.com/bulwark-dns/bulwark/blocklist"

// IntelIndex finds the threat-intelligence objects behind a rule, so that
// a block can be reported back to whoever shared the indicator (package
// feeds/sightings). It is built from one Rules and immutable.
type IntelIndex struct {
	rules *Rules
	refs  map[intelKey][]IntelRef
}

type intelKey struct {
	list  string
	name  string // canonical rule name, "" for the root
	scope blocklist.Scope
}

// IntelIndex indexes the rules of r's threat-intelligence lists. It costs a
// pass over those rules; callers keep it for as long as r is current.
func (r *Rules) IntelIndex() *IntelIndex {
	x := &IntelIndex{rules: r, refs: map[intelKey][]IntelRef{}}
	for i, c := range r.copies {
		if c == nil || len(c.meta) == 0 {
			continue
		}
		list := r.specs[i].info.Name
		for j := range c.meta {
			if c.meta[j].ref.ID == "" {
				continue
			}
			rule := c.rules.at(j)
			k := intelKey{list: list, name: rule.Name, scope: rule.Scope}
			x.refs[k] = append(x.refs[k], c.meta[j].ref)
		}
	}
	return x
}

// Rules is the snapshot x was built from.
func (x *IntelIndex) Rules() *Rules { return x.rules }

// Lookup returns the objects behind the rule name (canonical; "" or "."
// for the root) with scope in list; nil for a plain list's rule.
func (x *IntelIndex) Lookup(list, name string, scope blocklist.Scope) []IntelRef {
	if name == "." {
		name = ""
	}
	return x.refs[intelKey{list: list, name: name, scope: scope}]
}

// Empty reports whether no threat-intelligence rule is indexed.
func (x *IntelIndex) Empty() bool { return len(x.refs) == 0 }
