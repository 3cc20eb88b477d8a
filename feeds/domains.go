package feeds

import (
	"io"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// ParseDomains reads a plain-domain list: one name per line, "#" comments
// (whole-line or trailing), blank lines, CRLF, a UTF-8 BOM, any case, a
// trailing root dot and Unicode names are all accepted. "example.com" is a
// Subtree rule (the name and everything below it); "*.example.com" is a
// Below rule (only names strictly below it).
//
// Each bad line is passed to reject and parsing continues; the returned
// error is only ever a read error, after which the list is incomplete.
func ParseDomains(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	st, err := parseLines(r, reject, func(n int, raw []byte, _ *Stats, a *nameArena) {
		if plainToken(raw) { // nearly every line: the name alone
			domainName(n, raw, raw, a, emit, reject)
		} else if d := data(raw); len(d) > 0 {
			domainLine(n, d, a, emit, reject)
		}
	})
	return Stats{Lines: st.Lines}, err
}

// domainLine handles line n of a domains list, d its data (comments cut).
func domainLine(n int, d []byte, a *nameArena, emit func(Entry), reject func(LineError)) {
	tok, rest := nextField(d)
	if len(rest) > 0 {
		reject(LineError{Line: n, Text: clip(d), Reason: ReasonExtraFields})
		return
	}
	domainName(n, tok, d, a, emit, reject)
}

// domainName handles the name tok of line n of a domains list, d the
// line's data, for rejections.
func domainName(n int, tok, d []byte, a *nameArena, emit func(Entry), reject func(LineError)) {
	scope := blocklist.Subtree
	if hasPair(tok, '*', '.') {
		scope, tok = blocklist.Below, tok[2:]
	}
	emitName(n, tok, d, a, scope, false, emit, reject)
}
