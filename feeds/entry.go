package feeds

import (
	"fmt"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// Entry is one rule a parser found. Parsers share this shape so that the
// loader, fuzzing and later formats (adblock, RPZ) treat them alike.
type Entry struct {
	// Name is canonical: lower case, no trailing dot, IDNs as A-labels.
	Name  string
	Scope blocklist.Scope
	// Allow marks an exception inside a block list (adblock "@@", RPZ
	// passthru). Every entry of an allow list is an allow rule regardless.
	Allow bool
	// Line is the 1-based line the entry came from, for explain output.
	Line int
}

// Stats counts what a parser read beyond the entries and rejects it handed
// out, so that reports can show how much of a file was deliberately ignored.
type Stats struct {
	// Lines is the number of lines read, including blank and comment lines.
	Lines int
	// Skipped counts data that is fine to ignore: hosts-file boilerplate
	// such as localhost names and "0.0.0.0 0.0.0.0". Blank and comment lines
	// are not counted.
	Skipped int
}

// Reject reasons: short, stable strings, used as Report.Rejected keys (and
// so fit for dashboards and tests).
const (
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
	ReasonWildcard     = "wildcard"
	ReasonBadHostsAddr = "bad hosts address"
	ReasonMissingName  = "missing name"
	ReasonExtraFields  = "extra fields"
	ReasonLineTooLong  = "line too long"
	ReasonInvalidName  = "invalid name"
)

// LineError is one rejected line (or one rejected name of a hosts line). It
// is never fatal; the loader counts it and keeps the first few as samples.
type LineError struct {
	// List and File are filled in by the loader; parsers leave them empty.
	List string
	File string
	Line int
	// Text is the offending name as written, or the whole line (trimmed and
	// possibly truncated) when the line itself is malformed.
	Text   string
	Reason string
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
	if lineLevel(e.Reason) {
		return fmt.Sprintf("%sline %d: %s: %q", prefix, e.Line, e.Reason, e.Text)
	}
	return fmt.Sprintf("%sline %d: invalid domain %q: %s", prefix, e.Line, e.Text, e.Reason)
}

// lineLevel reports whether reason is about the line's shape rather than
// one name on it.
func lineLevel(reason string) bool {
	switch reason {
	case ReasonBadHostsAddr, ReasonMissingName, ReasonExtraFields, ReasonLineTooLong:
		return true
	}
	return false
}
