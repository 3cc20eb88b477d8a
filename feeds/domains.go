package feeds

import (
	"bytes"
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
	lr := newLineReader(r)
	for lr.next() {
		if lr.tooLong {
			reject(lr.tooLongError())
			continue
		}
		d := data(lr.line)
		if len(d) == 0 {
			continue
		}
		tok, rest := nextField(d)
		if len(rest) > 0 {
			reject(LineError{Line: lr.n, Text: clip(d), Reason: ReasonExtraFields})
			continue
		}
		scope := blocklist.Subtree
		if n := bytes.TrimPrefix(tok, []byte("*.")); len(n) < len(tok) {
			scope, tok = blocklist.Below, n
		}
		name, reason := canonical(tok)
		if reason != "" {
			reject(LineError{Line: lr.n, Text: clip(d), Reason: reason})
			continue
		}
		emit(Entry{Name: name, Scope: scope, Line: lr.n})
	}
	return Stats{Lines: lr.n}, lr.Err()
}
