package feeds

import (
	"strings"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/pubsuffix"
)

// broadRule reports whether a rule at name covers a whole top-level
// domain or public suffix (ICANN or private, e.g. "com", "co.uk",
// "github.io"), or the root: whatever its scope, such a rule decides for
// names that belong to countless unrelated owners. Lists must say
// allow_broad: true to have one. The suffixes are x/net/publicsuffix's;
// pubsuffix gives its answers at a tenth of its cost, which is a fifth
// of a cold parse.
func broadRule(name string) bool {
	if name == "" || name == "." {
		return true
	}
	return pubsuffix.IsName(name) // a rule's name is canonical: no ':'

}

// broadEntry reports whether e is a broad rule: a name rule (query name
// or rpz-nsdname) at a public suffix, or an address trigger for every
// address (/0).
func broadEntry(e *Entry) bool {
	if e.Prefix.IsValid() {
		return e.Prefix.Bits() == 0
	}
	return broadRule(e.Name)
}

// broadError is the line error of a broad rule.
func broadError(e Entry) LineError {
	text := strings.Clone(e.Name) // kept in the report; e.Name may be in the parse's nameArena
	if e.Scope == blocklist.Below {
		text = "*." + text
	}
	if e.Prefix.IsValid() {
		return LineError{Line: e.Line, Text: e.Prefix.String(), Reason: ReasonBroadNet}
	}
	return LineError{Line: e.Line, Text: text, Reason: ReasonBroad}
}
