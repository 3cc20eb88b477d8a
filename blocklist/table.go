package blocklist

import "net/netip"

// Table is one published version of every configured list: the merged Set
// plus what each list is. Payload.List indexes Lists and Payload.Category
// indexes Categories. A Table is immutable once published; a refresh builds
// a new one and swaps it in whole.
type Table struct {
	Set        *Set
	Lists      []ListInfo
	Categories []string
	// Addrs holds per-rule answer addresses (RPZ local data): a rule whose
	// Payload.Data is d > 0 answers Addrs[d-1] instead of its list's
	// Sinkhole. Rules share sets, so there are few.
	Addrs [][]netip.Addr
	// WhatIf holds the rules of log-only lists: matched beside Set so that
	// what they would block is logged and counted, never enforced (nil:
	// no such list). Its payloads index Lists and Addrs like Set's.
	WhatIf *Set
	// Local holds per-rule local data other than addresses (RPZ CNAME
	// rewrites, TXT): a rule with ActionLocal and Payload.Data d > 0
	// answers Local[d-1] and the addresses Addrs[d-1]. When not nil it is
	// as long as Addrs, which it shares its index space with.
	Local [][]LocalRR
	// The RPZ triggers other than the query name (nets.go), in config
	// order; nil when no list has one of that kind. NSDName and NSIP
	// apply only where the route knows the servers it asked (recursion).
	ClientIP, IP, NSIP *NetSet
	NSDName            *Set
	// The client-ip and ip triggers of log-only lists, matched beside
	// ClientIP and IP like WhatIf beside Set; nil: none.
	WhatIfClientIP, WhatIfIP *NetSet
}

// LocalRR is one record of RPZ local data, in master-file form: the
// resolver turns it into a record owned by the query name.
type LocalRR struct {
	Type uint16
	Data string // the RDATA as written, names absolute
}

// LocalData returns a local-data rule's records (nil for other rules).
func (t *Table) LocalData(p Payload) []LocalRR {
	if p.Data > 0 && int(p.Data) <= len(t.Local) {
		return t.Local[p.Data-1]
	}
	return nil
}

// SinkholeAddrs returns the addresses a sinkhole rule with payload p
// answers: the rule's own when it has them, else its list's.
func (t *Table) SinkholeAddrs(p Payload) []netip.Addr {
	if p.Data > 0 && int(p.Data) <= len(t.Addrs) {
		return t.Addrs[p.Data-1]
	}
	if int(p.List) < len(t.Lists) {
		return t.Lists[p.List].Sinkhole
	}
	return nil
}

// ListInfo describes one configured list, for answers, logs and metrics.
type ListInfo struct {
	Name  string
	Allow bool
	// Action is the list's default action; a rule's own Payload.Action
	// (RPZ) decides the answer.
	Action Action
	// Sinkhole holds the addresses answered for ActionSinkhole.
	Sinkhole []netip.Addr
	// Source is where the list came from, as configured.
	Source string
	// Entries is the number of rules the list contributed.
	Entries int
	// LogOnly marks a list on trial: its rules are in Table.WhatIf.
	LogOnly bool
	// RPZ marks a response policy zone: its passthru rules keep zone
	// order over later zones (trust.go).
	RPZ bool
}
