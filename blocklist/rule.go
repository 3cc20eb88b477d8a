// Package blocklist holds the compiled rule set that every query is matched
// against: a compressed trie over reversed labels, built once from feed rules
// and then matched many times, concurrently, without locks or allocations.
//
// The package knows nothing of files, HTTP or servers: feeds/ produces rules,
// resolver/ asks Match.
package blocklist

// Scope says which names a rule at name N covers. Plain lists (domains,
// hosts, adblock) use Subtree; RPZ keeps the distinction between Exact (the
// owner itself) and Below (the RPZ "*.N" form, strictly below N).
type Scope uint8

const (
	// Subtree covers N and every name below it.
	Subtree Scope = iota
	// Exact covers N only.
	Exact
	// Below covers every name strictly below N, but not N itself.
	Below
)

// String returns the scope as operators write it in explain output.
func (s Scope) String() string {
	switch s {
	case Subtree:
		return "subtree"
	case Exact:
		return "exact"
	case Below:
		return "below"
	}
	return "unknown"
}

// Action is what a block rule asks the resolver to answer. The trie only
// carries it; resolver/ gives it meaning.
type Action uint8

const (
	// ActionNXDomain answers NXDOMAIN with an SOA and EDE 15 (the default).
	ActionNXDomain Action = iota
	// ActionNoData answers NOERROR with no records.
	ActionNoData
	// ActionNull answers 0.0.0.0 / :: for A / AAAA.
	ActionNull
	// ActionSinkhole answers the list's configured sinkhole addresses.
	ActionSinkhole
	// ActionRefused answers REFUSED.
	ActionRefused
	// ActionDrop sends no answer at all.
	ActionDrop
	// ActionTCPOnly (RPZ rpz-tcp-only.) answers UDP queries with an empty
	// truncated answer, so that the client retries over TCP, and resolves
	// queries that came over TCP as if unlisted.
	ActionTCPOnly
	// ActionLocal (RPZ local data) answers the rule's own records
	// (Table.Local): a CNAME rewrite to a walled garden, TXT, and so on.
	// It is no list's action: only a rule carries it.
	ActionLocal
)

// NumActions bounds the Action values, for tables indexed by action.
const NumActions = int(ActionLocal) + 1

var actionNames = [NumActions]string{"nxdomain", "nodata", "null", "sinkhole", "refused", "drop", "tcp-only", "local-data"}

// String returns the action's config spelling.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// ParseAction maps a config spelling onto an Action. "local-data" is
// not one: it needs a rule's own records.
func ParseAction(s string) (Action, bool) {
	for i, n := range actionNames {
		if n == s && Action(i) != ActionLocal {
			return Action(i), true
		}
	}
	return 0, false
}

// Payload is the small, fixed-size data a rule carries. It is stored
// deduplicated in the trie (most rules of one list share one payload), so
// its size costs little per entry.
type Payload struct {
	// List is the index of the rule's list in config order. Allow lists and
	// block lists share one index space, assigned by the caller.
	List uint16
	// Category indexes the caller's category table (phishing, malware, ...).
	Category uint16
	// Action applies to block rules; it is ignored for allow rules.
	Action Action
	// Data indexes caller-held extra data (e.g. an RPZ rule's local-data
	// sinkhole addresses); 0 means none.
	Data uint32
}

// Rule is one entry handed to the Builder.
type Rule struct {
	// Name is the rule's domain name. The builder canonicalises it (lower
	// case, no trailing dot) and rejects invalid names; "" or "." is the root.
	Name    string
	Scope   Scope
	Allow   bool
	Payload Payload
	// Canon, when Name is its own string (Name = Canon.String()), tells
	// the builder that Name is canonical already; otherwise it is ignored.
	Canon Name
}

// Match is the deciding rule for a queried name. It carries no strings so
// that matching never allocates; use RuleName to recover the rule's name.
type Match struct {
	Allow   bool
	Scope   Scope
	Payload Payload
	// Offset is the byte offset in the queried name at which the deciding
	// rule's name starts (len(name without trailing dot) for a root rule).
	Offset int
}

// RuleName returns the deciding rule's canonical name, for logs: qname must
// be the name that was passed to Match. It allocates; keep it off the
// allow path.
func (m Match) RuleName(qname string) string {
	if len(qname) > 0 && qname[len(qname)-1] == '.' {
		qname = qname[:len(qname)-1]
	}
	if m.Offset >= len(qname) {
		return "."
	}
	return toLowerASCII(qname[m.Offset:])
}

// RuleText renders the deciding rule the way RPZ and explain output show it:
// "*.name" for Below, "name" otherwise.
func (m Match) RuleText(qname string) string {
	n := m.RuleName(qname)
	if m.Scope == Below {
		if n == "." {
			return "*."
		}
		return "*." + n
	}
	return n
}

func toLowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}
