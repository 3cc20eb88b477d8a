package feeds

import (
	"fmt"
	"net/netip"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// Entry is one rule a parser found. Parsers share this shape so that the
// loader, the manager and fuzzing treat every format alike.
type Entry struct {
	// Name is canonical: lower case, no trailing dot, IDNs as A-labels.
	Name  string
	Scope blocklist.Scope
	// Allow marks an exception inside a block list (adblock "@@", RPZ
	// passthru). Every entry of an allow list is an allow rule regardless.
	Allow bool
	// HasAction says the rule carries its own answer (RPZ policy); without
	// it the list's configured action applies.
	HasAction bool
	Action    blocklist.Action
	// Addrs are the rule's own sinkhole addresses (RPZ local data A/AAAA),
	// answered instead of the list's; only with Action sinkhole.
	Addrs []netip.Addr
	// Trigger is the RPZ trigger kind; every other format has only
	// blocklist.TriggerQName. The address triggers (client-ip, ip, nsip)
	// carry Prefix and no Name; rpz-nsdname carries the server's Name.
	Trigger blocklist.Trigger
	Prefix  netip.Prefix
	// Local is RPZ local data other than addresses (a CNAME rewrite to a
	// walled garden, TXT), answered with Action local.
	Local []blocklist.LocalRR
	// Line is the 1-based line the entry came from, for logs.
	Line int
	// Intel is set by threat-intelligence formats (STIX, MISP): which
	// indicator the rule came from and when it applies (intel.go).
	Intel *IntelRef
	// canon is Name as blocklist.Canonical returned it, when the parser
	// kept it (emitName): the builder then takes Name without checking it
	// again. Entries made any other way leave it zero and are checked.
	canon blocklist.Name
}

// Stats counts what a parser read beyond the entries and rejects it handed
// out, so that reports can show how much of a file was deliberately ignored.
type Stats struct {
	// Lines is the number of lines read, including blank and comment lines.
	Lines int
	// Skipped counts hosts-file boilerplate such as localhost names and
	// "0.0.0.0 0.0.0.0". Blank and comment lines are not counted; skipped
	// lines of other kinds go through reject with LineError.Skipped set.
	Skipped int
	// Approximated counts RPZ rules whose answer Bulwark cannot give
	// exactly and replaces with the closest block (none since local data
	// and CNAME rewrites are answered; kept for the report's shape).
	Approximated int
}

// Reject reasons: short, stable strings, used as Report.Rejected and
// Report.SkippedBy keys and as the reason label of the feed metrics.
const (
	// Invalid names (canonical's verdicts).
	ReasonEmptyLabel   = "empty label"
	ReasonEmptyName    = "empty name"
	ReasonSingleLabel  = "single label"
	ReasonIPAddress    = "ip address"
	ReasonNumericTLD   = "numeric tld"
	ReasonURL          = "url"
	ReasonInvalidChar  = "invalid character"
	ReasonHyphen       = "leading or trailing hyphen"
	ReasonLabelTooLong = "label too long"
	ReasonNameTooLong  = "name too long"
	ReasonIDNA         = "idna"
	ReasonInvalidName  = "invalid name"

	// Malformed lines.
	ReasonWildcard     = "wildcard"
	ReasonBadHostsAddr = "bad hosts address"
	ReasonMissingName  = "missing name"
	ReasonExtraFields  = "extra fields"
	ReasonLineTooLong  = "line too long"

	// Adblock lines that are valid but mean nothing to a DNS resolver
	// (LineError.Skipped).
	ReasonCosmetic   = "cosmetic rule"
	ReasonURLPattern = "url pattern"
	ReasonRegex      = "regex rule"
	ReasonModifier   = "unsupported modifier"
	ReasonPattern    = "wildcard pattern"

	// A malformed address trigger (rpz-ip, rpz-client-ip, rpz-nsip).
	ReasonRPZPrefix = "bad rpz address trigger"

	// Malformed RPZ records.
	ReasonRPZSyntax     = "syntax"
	ReasonRPZClass      = "unsupported class"
	ReasonRPZRdata      = "bad rdata"
	ReasonRPZConflict   = "cname and other data"
	ReasonRPZOutOfZone  = "out of zone"
	ReasonRPZDirective  = "unsupported directive"
	ReasonRPZRootPolicy = "policy for every name"

	// A rule covering a whole TLD or public suffix, without allow_broad.
	ReasonBroad = "public suffix"
	// An address trigger for every address (/0), without allow_broad.
	ReasonBroadNet = "every address"
)

// LineError is one rejected (or deliberately skipped) line, or one
// rejected name of a hosts line. It is never fatal; the loader counts it
// and keeps the first few as samples.
type LineError struct {
	// List and File are filled in by the loader; parsers leave them empty.
	List string
	File string
	Line int
	// Text is the offending name as written, or the whole line (trimmed and
	// possibly truncated) when the line itself is malformed.
	Text   string
	Reason string
	// Skipped marks a line that is valid in its format but has no meaning
	// for a DNS resolver (a cosmetic adblock rule, an rpz-ip trigger). It
	// is counted apart from errors, which point at a broken feed.
	Skipped bool
}

// Error renders the rejection so an operator can find and fix the line, e.g.
// `feed "urlhaus": file:/etc/bulwark/urlhaus.txt: line 42: invalid domain "a..b": empty label`.
func (e LineError) Error() string {
	prefix := ""
	if e.List != "" {
		prefix = fmt.Sprintf("feed %q: ", e.List)
	}
	if e.File != "" {
		prefix += e.File + ": "
	}
	if nameLevel(e.Reason) {
		return fmt.Sprintf("%sline %d: invalid domain %q: %s", prefix, e.Line, e.Text, e.Reason)
	}
	if e.Skipped {
		return fmt.Sprintf("%sline %d: skipped (%s): %q", prefix, e.Line, e.Reason, e.Text)
	}
	return fmt.Sprintf("%sline %d: %s: %q", prefix, e.Line, e.Reason, e.Text)
}

// nameLevel reports whether reason is about one name rather than the shape
// of the line.
func nameLevel(reason string) bool {
	switch reason {
	case ReasonEmptyLabel, ReasonEmptyName, ReasonSingleLabel, ReasonIPAddress, ReasonNumericTLD,
		ReasonURL, ReasonInvalidChar, ReasonHyphen, ReasonLabelTooLong, ReasonNameTooLong,
		ReasonIDNA, ReasonInvalidName, ReasonWildcard, ReasonBroad:
		return true
	}
	return false
}
