package query

import (
	"net/netip"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// BlockHit is one block decision as a BlockSink sees it: the facts of the
// block log's record, with the name the rule matched.
type BlockHit struct {
	At     time.Time
	Client netip.Addr
	// Tenant is the deciding tenant's name; "" for the default policy.
	Tenant string
	// Table is the table that decided and Match its deciding rule.
	Table *blocklist.Table
	Match blocklist.Match
	// Name is the canonical name Match was matched against (the query
	// name, or the CNAME target that was blocked), so that
	// Match.RuleName(Name) is the rule.
	Name string
}

// BlockSink watches block decisions, e.g. to report which threat
// indicators blocked (package feeds/sightings). Blocked runs on the query
// path of every block, so it must not block: queue and drop (and count)
// when full.
type BlockSink interface {
	Blocked(BlockHit)
}
