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
// the earlier line, wins. It scans every rule, so it is for explain, not
// for the query path.
func (r *Rules) Matching(name string) []RuleMatch {
	var out []RuleMatch
	for i, c := range r.copies {
		if c == nil {
			continue
		}
		sp := r.specs[i]
		for j := range c.rules.len() {
			rule := c.rules.at(j)
			if !applies(rule.Name, rule.Scope, name) {
				continue
			}
			m := RuleMatch{
				List: sp.info.Name, ListIndex: int(sp.index), AllowList: sp.allow, Allow: rule.Allow,
				Name: rule.Name, Scope: rule.Scope, Source: c.report.Source,
			}
			if cat := sp.ruleCategory(c, j); int(cat) < len(r.table.Categories) {
				m.Category = r.table.Categories[cat]
			}
			if j < len(c.meta) {
				m.Indicator = c.meta[j].ref.String()
			}
			if j < len(c.lines) {
				m.Line = int(c.lines[j])
			}
			if !rule.Allow {
				m.Action = rule.Payload.Action
				if m.Action == blocklist.ActionSinkhole {
					m.Addrs = sp.info.Sinkhole
					if d := rule.Payload.Data; d > 0 && int(d) <= len(c.addrs) {
						m.Addrs = c.addrs[d-1]
					}
				}
			}
			out = append(out, m)
		}
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
