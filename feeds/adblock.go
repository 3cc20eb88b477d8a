package feeds

import (
	"bytes"
	"io"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// ParseAdblock reads the DNS-level subset of adblock syntax (Adblock Plus,
// uBlock Origin, AdGuard DNS), the form Hagezi, OISD and many threat lists
// publish:
//
//   - "||example.com^" blocks the name and every name below it; "^|" and a
//     missing "^" mean the same at DNS level.
//   - "@@||example.com^" is an exception (an allow rule of the same form).
//   - "$important", "$all", "$document" and "$doc" are accepted: they do
//     not narrow a rule. Any other modifier ("$third-party", "$domain=",
//     "$dnstype=", ...) makes the rule conditional on something DNS cannot
//     see, so the line is skipped rather than over-blocking.
//   - bare "example.com", "*.example.com" and hosts-style "0.0.0.0 name"
//     lines are read as in the domains and hosts formats.
//   - "!" comments, "#" comments and the "[Adblock Plus 2.0]" header are
//     ignored.
//
// Cosmetic rules ("##", "#@#", ...), URL patterns ("||host/path", "|http"),
// regex rules ("/.../") and wildcard patterns are valid adblock but mean
// nothing to a resolver: they are passed to reject with Skipped set and a
// reason. Malformed rules ("||^", "||a..b^", "@@") are rejected. The
// returned error is only ever a read error.
func ParseAdblock(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	return parseLines(r, reject, func(n int, raw []byte, st *Stats, a *nameArena) {
		adblockLine(n, trimBlank(raw), a, emit, reject, st)
	})
}

// adblockLine handles one trimmed line n of an adblock list.
func adblockLine(n int, line []byte, a *nameArena, emit func(Entry), reject func(LineError), st *Stats) {
	if len(line) == 0 || line[0] == '!' || line[0] == '[' && line[len(line)-1] == ']' {
		return
	}
	skip := func(reason string) {
		reject(LineError{Line: n, Text: clip(line), Reason: reason, Skipped: true})
	}
	if cosmetic(line) {
		skip(ReasonCosmetic)
		return
	}
	if line[0] == '#' {
		return // a hosts-style comment
	}
	body, allow := line, false
	if hasPair(body, '@', '@') {
		body, allow = body[2:], true
	}
	if len(body) == 0 {
		reject(LineError{Line: n, Text: clip(line), Reason: ReasonMissingName})
		return
	}
	switch {
	case body[0] == '/':
		if len(body) > 1 && body[len(body)-1] == '/' {
			skip(ReasonRegex)
		} else {
			skip(ReasonURLPattern)
		}
		return
	case hasPair(body, '|', '|'):
		body = body[2:]
	case body[0] == '|':
		skip(ReasonURLPattern) // anchored at a URL's start: "|https://..."
		return
	default:
		if addr, names := nextField(body); len(names) > 0 && !allow && hostsAddr(addr) {
			hostsNames(n, names, a, emit, reject, st)
			return
		}
	}
	pattern, mods := body, []byte(nil)
	if i := bytes.IndexByte(body, '$'); i >= 0 {
		pattern, mods = body[:i], body[i+1:]
	}
	if !plainModifiers(mods) {
		skip(ReasonModifier)
		return
	}
	pattern = bytes.TrimSuffix(pattern, []byte("|"))
	pattern = bytes.TrimSuffix(pattern, []byte("^"))
	scope := blocklist.Subtree
	switch {
	case bytes.IndexByte(pattern, '/') >= 0:
		skip(ReasonURLPattern)
		return
	case bytes.HasPrefix(pattern, []byte("*.")) && bytes.IndexByte(pattern[2:], '*') < 0 && len(body) == len(line):
		// A bare "*.example.com" line, as in the domains format.
		scope, pattern = blocklist.Below, pattern[2:]
	case bytes.IndexByte(pattern, '*') >= 0:
		skip(ReasonPattern)
		return
	}
	if _, rest := nextField(pattern); len(rest) > 0 {
		reject(LineError{Line: n, Text: clip(line), Reason: ReasonExtraFields})
		return
	}
	emitName(n, pattern, pattern, a, scope, allow, emit, reject)
}

// cosmeticMarkers separate a cosmetic (element hiding, scriptlet, CSS) rule
// from its domains in Adblock Plus, uBlock Origin and AdGuard syntax.
var cosmeticMarkers = [][]byte{
	[]byte("##"), []byte("#@#"), []byte("#?#"), []byte("#@?#"), []byte("#$#"), []byte("#@$#"),
	[]byte("#%#"), []byte("#@%#"), []byte("$$"), []byte("$@$"),
}

func cosmetic(line []byte) bool {
	if bytes.IndexByte(line, '#') < 0 && bytes.IndexByte(line, '$') < 0 {
		return false
	}
	for _, m := range cosmeticMarkers {
		if bytes.Contains(line, m) {
			return true
		}
	}
	return false
}

// plainModifiers reports whether every modifier in a "$a,b" list leaves
// the rule unconditional, so that blocking the whole name is what the list
// author meant.
func plainModifiers(mods []byte) bool {
	if mods == nil {
		return true
	}
	for len(mods) > 0 {
		var m []byte
		m, mods, _ = bytes.Cut(mods, []byte{','})
		switch string(trimBlank(m)) {
		case "important", "all", "document", "doc":
		default:
			return false
		}
	}
	return true
}
