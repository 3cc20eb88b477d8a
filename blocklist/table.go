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
}
