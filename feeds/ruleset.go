package feeds

import (
	"math"
	"strings"
	"unsafe"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// ruleSet is a copy's rules in a form the garbage collector does not scan:
// every name back to back in one string, and per rule the end of its name
// and its fixed-size fields, with no pointer in them. A copy lives as long
// as its list is served; as a []blocklist.Rule a million rules are a million
// string headers that every collection walks, on the core that answers
// queries: with the 1M-name bench list loaded, a collection's mark took
// 33-69 ms of that core as []blocklist.Rule and 3-5 ms as a ruleSet.
type ruleSet struct {
	names string
	rules []packedRule
}

// packedRule is one rule of a ruleSet. It must stay pointer-free (see
// TestPackedRuleHasNoPointers): that is what keeps the slice unscanned.
type packedRule struct {
	end     uint32 // offset in names just past this rule's name; it starts where the previous ends
	scope   blocklist.Scope
	allow   bool
	payload blocklist.Payload
}

// len is the number of rules.
func (s *ruleSet) len() int { return len(s.rules) }

// at returns rule i; its name shares the set's string, so this allocates
// nothing.
func (s *ruleSet) at(i int) blocklist.Rule {
	var start uint32
	if i > 0 {
		start = s.rules[i-1].end
	}
	p := &s.rules[i]
	return blocklist.Rule{Name: s.names[start:p.end], Scope: p.scope, Allow: p.allow, Payload: p.payload}
}

// ruleSetBuilder collects a copy's rules while it is parsed, in blocks
// (see chunks), so that parsing costs memory in proportion to the result.
type ruleSetBuilder struct {
	names chunks[byte]
	rules chunks[packedRule]
}

// add appends r; false when the names would pass the 4 GiB an offset can
// address (no list this large fits in memory as a trie anyway).
func (b *ruleSetBuilder) add(r blocklist.Rule) bool {
	if uint64(b.names.len())+uint64(len(r.Name)) > math.MaxUint32 {
		return false
	}
	addString(&b.names, r.Name)
	b.rules.add(packedRule{end: uint32(b.names.len()), scope: r.Scope, allow: r.Allow, payload: r.Payload}, int(unsafe.Sizeof(packedRule{})))
	return true
}

// len is the number of rules added so far.
func (b *ruleSetBuilder) len() int { return b.rules.len() }

// finish returns the set, sized exactly (it may be kept for days), and
// empties the builder.
func (b *ruleSetBuilder) finish() ruleSet {
	var names strings.Builder
	names.Grow(b.names.len())
	b.names.each(func(blk []byte) { names.Write(blk) })
	return ruleSet{names: names.String(), rules: b.rules.collect()}
}
