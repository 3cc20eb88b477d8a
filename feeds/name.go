package feeds

import (
	"net/netip"
	"strings"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/net/idna"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// idnaProfile converts Unicode names to A-labels the way a resolver looks
// them up (UTS #46 mapping, non-transitional), but without STD3 rules and
// hyphen checks: underscores and "ab--cd" labels are real in feeds, and
// blocklist.CanonicalName applies the DNS rules afterwards. It is immutable.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
	idna.CheckJoiners(true),
	idna.BidiRule(),
)

// canonical validates one name as written in a list and returns its
// canonical form, or "" and the reason it is rejected. The only allocation
// on the accept path is the returned string (two if it had upper case).
func canonical(tok []byte) (name, reason string) { return canonicalName(tok, false) }

// canonicalName is canonical, optionally accepting a single-label name: an
// RPZ trigger such as "*.zip" is deliberate, a lone word in a plain list
// is junk.
func canonicalName(tok []byte, singleOK bool) (name, reason string) {
	n, reason := canonicalTok(tok, singleOK)
	return n.String(), reason
}

// canonicalTok is canonicalName returning the blocklist.Name, which a
// rule can carry to the builder (Entry.canon).
func canonicalTok(tok []byte, singleOK bool) (blocklist.Name, string) {
	return canonicalTokIn(nil, tok, singleOK)
}

// canonicalTokIn is canonicalTok taking the name's string from a (nil: a
// string of its own).
func canonicalTokIn(a *nameArena, tok []byte, singleOK bool) (blocklist.Name, string) {
	var none blocklist.Name
	if len(tok) == 0 {
		return none, ReasonEmptyName
	}
	// Most names of a list are canonical as written: try that first, so
	// that they cost one pass to check (blocklist.Canonical's) rather than
	// a scan for '/' and non-ASCII bytes as well. Canonical accepts only
	// bytes of [A-Za-z0-9_.-], none of which the scan looks for, so an
	// accepted name is what the checks below would have accepted.
	s := a.string(tok)
	n, err := blocklist.Canonical(s)
	if err != nil {
		var reason string
		if n, reason = canonicalSlow(tok, s); reason != "" {
			return none, reason
		}
	}
	name := n.String()
	switch {
	case name == "":
		return none, ReasonEmptyName
	case strings.IndexByte(name, '.') < 0:
		if singleOK && !numeric(name) {
			return n, ""
		}
		return none, ReasonSingleLabel
	case !isDigit(name[len(name)-1]):
		// The TLD ends the name: not all digits. The common case, settled
		// without the byte-at-a-time search for the last dot.
	case numeric(name[strings.LastIndexByte(name, '.')+1:]):
		// No TLD is all digits: this is an IPv4 literal or a mangled one.
		if numeric(strings.ReplaceAll(name, ".", "")) {
			return none, ReasonIPAddress
		}
		return none, ReasonNumericTLD
	}
	return n, ""
}

// canonicalSlow is canonicalTokIn's check of a name that
// blocklist.Canonical refused as written (s, tok's string): a URL, a
// prefix, a Unicode name or a bad one.
func canonicalSlow(tok []byte, s string) (blocklist.Name, string) {
	var none blocklist.Name
	slash, wide := scanToken(tok)
	if slash {
		if _, err := netip.ParsePrefix(s); err == nil {
			return none, ReasonIPAddress
		}
		return none, ReasonURL
	}
	if !wide { // refused as it is
		return none, whyInvalid(s)
	}
	if !utf8.Valid(tok) {
		return none, ReasonIDNA
	}
	s, err := idnaProfile.ToASCII(s)
	if err != nil {
		return none, ReasonIDNA
	}
	n, err := blocklist.Canonical(s)
	if err != nil {
		return none, whyInvalid(s)
	}
	return n, ""
}

// whyInvalid names the first rule of blocklist.CanonicalName that s breaks,
// in the order CanonicalName checks them, as a stable reason. It runs only
// for rejected names.
func whyInvalid(s string) string {
	if strings.IndexByte(s, ':') >= 0 {
		if _, err := netip.ParseAddr(s); err == nil {
			return ReasonIPAddress
		}
		if strings.Contains(s, "://") {
			return ReasonURL
		}
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > blocklist.MaxNameLen {
		return ReasonNameTooLong
	}
	for _, label := range strings.Split(s, ".") {
		for i := 0; i < len(label); i++ {
			if !labelByte(label[i]) {
				return ReasonInvalidChar
			}
		}
		switch {
		case label == "":
			return ReasonEmptyLabel
		case len(label) > blocklist.MaxLabelLen:
			return ReasonLabelTooLong
		case label[0] == '-' || label[len(label)-1] == '-':
			return ReasonHyphen
		}
	}
	return ReasonInvalidName
}

func labelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// scanToken reports whether tok holds a '/' (a URL or a prefix, not a
// name) and whether it holds bytes beyond ASCII (a Unicode name, or not
// UTF-8), in the one pass over it that a name's check takes before
// blocklist.CanonicalName's own.
func scanToken(tok []byte) (slash, wide bool) {
	var or byte
	for _, c := range tok {
		or |= c
		slash = slash || c == '/'
	}
	return slash, or >= utf8.RuneSelf
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// nameArena hands out the strings of a parse's names from blocks of
// arenaBlock bytes instead of one allocation each. A million-name list
// made a million small strings, a sixth of its parse (the allocations and
// the collections they brought on while GOGC is low for the build,
// cmd/bulwark/memory.go); the blocks hold no pointers, so the collector
// does not scan them. A block is only ever appended to, never written
// where a string already points, so each string is immutable as Go
// requires; a block lives as long as any of its strings, so a name kept
// past the parse (a report sample) copies itself (strings.Clone).
type nameArena struct{ buf []byte }

// arenaBlock is the size of one block: a few hundred names, small enough
// that one name kept alive does not keep much else.
const arenaBlock = 16 << 10

// string returns b as a string; a nil arena allocates it alone.
func (a *nameArena) string(b []byte) string {
	if a == nil || len(b) == 0 || len(b) > arenaBlock/16 {
		return string(b)
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, arenaBlock)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[n], len(b))
}
