package feeds

import (
	"bytes"
	"io"
)

// ParseAuto reads a list whose lines may each be in any unambiguous
// plain syntax — a domain ("evil.example", "*.evil.example"), a hosts line
// ("0.0.0.0 evil.example www.evil.example") or an adblock rule
// ("||evil.example^", "@@||good.example^") — deciding line by line, so that
// a hosts line inside a mostly-domains file is a rule, not a rejected
// line. It is what format: auto (the default) parses with unless the list
// is a zone (RPZ) or a threat-intelligence document. A line is adblock
// syntax when it starts with "||", "@@", "|", "/" or "!", is a "[...]"
// header, or holds a cosmetic marker; "#" starts a comment elsewhere.
func ParseAuto(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	return parseLines(r, reject, func(n int, raw []byte, st *Stats, a *nameArena) {
		if line := trimBlank(raw); adblockSyntax(line) {
			adblockLine(n, line, a, emit, reject, st)
			return
		}
		d := data(raw)
		if len(d) == 0 {
			return
		}
		if addr, names := nextField(d); len(names) > 0 && hostsAddr(addr) {
			hostsNames(n, names, a, emit, reject, st)
			return
		}
		domainLine(n, d, a, emit, reject)
	})
}

// adblockSyntax reports whether a trimmed line can only be adblock syntax.
func adblockSyntax(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	switch line[0] {
	case '|', '@', '/', '!':
		return true
	case '[':
		return line[len(line)-1] == ']'
	}
	return cosmetic(line) || bytes.IndexByte(line, '^') >= 0
}

// autoFormat parses a plain list line by line (ParseAuto) under the name
// of the syntax most of it is written in, for reports.
type autoFormat struct{ detected string }

func (f autoFormat) Name() string { return f.detected }

func (f autoFormat) Parse(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	return ParseAuto(r, emit, reject)
}

// autoParser is the format a list with format: auto is parsed with, given
// what DetectFormat saw: the line-by-line parser for the plain syntaxes,
// the detected format itself for a zone or a document.
func autoParser(detected string) (Format, bool) {
	switch detected {
	case FormatDomains, FormatHosts, FormatAdblock:
		return autoFormat{detected}, true
	}
	return LookupFormat(detected)
}
