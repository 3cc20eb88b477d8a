// Package feeds turns configured threat lists into one immutable
// blocklist.Table: it opens each list's Source, parses it with a Format
// (plain domains or hosts for now; adblock and RPZ later) and merges every
// rule into a single blocklist.Set.
//
// Real feeds are messy, so parsing is forgiving: a bad line is counted and
// sampled in the list's Report and never aborts the load, while a list that
// cannot be read at all fails the load and names the list and its source.
// The package knows nothing of the DNS server; cmd/bulwark publishes the
// Table it returns.
package feeds
