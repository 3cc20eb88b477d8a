package feeds

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// Rules is every list's copy behind one published table. The merged Set
// keeps one rule per name and form, so it cannot say which other lists
// gave the same rule, nor where in a file a rule came from; Rules can, for
// `bulwark explain`. It is immutable.
type Rules struct {
	table  *blocklist.Table
	specs  []*feedSpec
	copies []*feedCopy // nil: the list had no copy when the table was built
}

// Table is the merged table built from these copies.
func (r *Rules) Table() *blocklist.Table { return r.table }

// RuleMatch is one rule of one list that applies to a name.
type RuleMatch struct {
	// List is the list's name and ListIndex its place in the merged index
	// space (config order, block lists first): blocklist.Payload.List.
	List      string
	ListIndex int
	Category  string
	// AllowList says the list is an allowlist; Allow says the rule is an
	// exception (every rule of an allowlist, adblock "@@", RPZ passthru).
	AllowList bool
	Allow     bool
	// Name is the rule's canonical name ("" for the root) and Scope which
	// names it covers.
	Name  string
	Scope blocklist.Scope
	// Action is the answer of a block rule; Addrs the addresses a
	// sinkhole rule answers (the rule's own RPZ local data, else the
	// list's).
	Action blocklist.Action
	Addrs  []netip.Addr
	// Source is where the copy came from (as reports show it, secrets
	// redacted) and Line the line of the rule in it.
	Source string
	Line   int
	// Indicator names the threat-intelligence object behind the rule (a
	// STIX indicator id, "MISP event E attribute A"); "" for plain lists.
	Indicator string
}

// Text renders the rule as lists write it: "*.name" for a below rule.
func (m RuleMatch) Text() string {
	n := m.Name
	if n == "" {
		n = "."
	}
	if m.Scope == blocklist.Below {
		if n == "." {
			return "*."
		}
		return "*." + n
	}
	return n
}

// CanonicalQuery turns a name as an operator types it (any case, trailing
// dot, Unicode) into the form lists are matched in, or says why it is not
// a name.
func CanonicalQuery(name string) (string, error) {
	if name == "." || name == "" {
		return "", nil
	}
	n, reason := canonicalName([]byte(name), true)
	if reason != "" {
		return "", fmt.Errorf("%q is not a domain name: %s", name, reason)
	}
	return n, nil
}

// Matching returns every rule of every list that applies to name (which
// must be canonical, see CanonicalQuery), in the order the merged set
// ranks them: the deciding rule first. The ranking is the matching
// contract of docs/ARCHITECTURE.md: the longest matching name wins; at the name itself an exact rule beats a
// subtree rule; then an allow beats a block; then the earlier list, and
// the earlier line, wins. It reads every list's text again from disk (the
// file, the builtin list, the cached download), so it is for explain, not
// for the query path; a list whose text is gone or changed since it was
// loaded shows the rules of its compiled set instead, without lines. A
// threat-intelligence list's rules are in memory (intel.go).
func (r *Rules) Matching(name string) []RuleMatch {
	var out []RuleMatch
	var err error
	for i, c := range r.copies {
		if c == nil {
			continue
		}
		var ms []RuleMatch
		if c.set == nil {
			ms = c.matchRules(r.specs[i], name, r.table.Categories)
		} else if ms, err = c.matchText(r.specs[i], name, r.table.Categories); err != nil {
			ms = c.matchSet(r.specs[i], name, r.table.Categories)
		}
		out = append(out, ms...)
	}
	sort.SliceStable(out, func(a, b int) bool { return ranksBefore(&out[a], &out[b], name) })
	return out
}

// applies reports whether a rule at rule (canonical, "" for the root) with
// scope covers the canonical name q.
func applies(rule string, scope blocklist.Scope, q string) bool {
	if rule == q {
		return scope != blocklist.Below
	}
	below := rule == "" || len(q) > len(rule) && strings.HasSuffix(q, rule) && q[len(q)-len(rule)-1] == '.'
	return below && scope != blocklist.Exact
}

// ranksBefore orders two rules applying to q as the builder does
// (blocklist.tree.add); equal ranks keep config and file order.
func ranksBefore(a, b *RuleMatch, q string) bool {
	if len(a.Name) != len(b.Name) {
		return len(a.Name) > len(b.Name)
	}
	rank := func(m *RuleMatch) int {
		r := 0
		if m.Name == q && m.Scope == blocklist.Exact {
			r = 2
		}
		if m.Allow {
			r++
		}
		return r
	}
	return rank(a) > rank(b)
}

// Rules returns the copies behind the published table, or nil before the
// first table.
func (m *Manager) Rules() *Rules { return m.rules.Load() }
