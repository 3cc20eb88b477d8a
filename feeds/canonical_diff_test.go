package feeds

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// canonicalTokBefore is canonicalTokIn as it was before it tried a name
// as canonical first (scan for '/' and non-ASCII bytes, then the IDNA
// mapping, then blocklist.Canonical): the reference its answers, reasons
// included, are held to.
func canonicalTokBefore(tok []byte, singleOK bool) (string, string) {
	if len(tok) == 0 {
		return "", ReasonEmptyName
	}
	slash, wide := scanToken(tok)
	if slash {
		if _, err := netip.ParsePrefix(string(tok)); err == nil {
			return "", ReasonIPAddress
		}
		return "", ReasonURL
	}
	s := string(tok)
	if wide {
		if !utf8.Valid(tok) {
			return "", ReasonIDNA
		}
		a, err := idnaProfile.ToASCII(s)
		if err != nil {
			return "", ReasonIDNA
		}
		s = a
	}
	n, err := blocklist.Canonical(s)
	if err != nil {
		return "", whyInvalid(s)
	}
	name := n.String()
	last := strings.LastIndexByte(name, '.')
	switch {
	case name == "":
		return "", ReasonEmptyName
	case last < 0:
		if singleOK && !numeric(name) {
			return name, ""
		}
		return "", ReasonSingleLabel
	case numeric(name[last+1:]):
		if numeric(strings.ReplaceAll(name, ".", "")) {
			return "", ReasonIPAddress
		}
		return "", ReasonNumericTLD
	}
	return name, ""
}

// canonicalTokCases reach every reason canonicalTokIn gives.
var canonicalTokCases = []string{
	"", ".", "example.com", "Example.COM", "example.com.", "a_b.c-d.example", "xn--bcher-kva.de",
	"bücher.de", "BÜCHER.de", "\xff.com", "a\xc3.com", "http://a.com/x", "10.0.0.0/8", "a/b",
	"1.2.3.4", "1.2.3.4.", "::1", "2001:db8::1", "a.b.123", "localhost", "LOCALHOST", "123",
	"-a.com", "a-.com", "a..com", ".a.com", "a.com..", "a b.com", "a*b.com", "*.a.com", "a@b.com",
	strings.Repeat("a", 64) + ".com", strings.Repeat("a", 63) + ".com",
	strings.Repeat("a.", 127) + "com", strings.Repeat("a.", 126) + "com", "ǅ.com", "a\u200d.com",
	"a.b1", "a.1b", "1a.2", "a.0", "0.a", "a.b.c9", "x.y.99", "9",
}

// TestCanonicalTokSameAsBefore: trying a name as canonical first gives
// every token the name or the reason it had before.
func TestCanonicalTokSameAsBefore(t *testing.T) {
	var a nameArena
	for _, tok := range canonicalTokCases {
		for _, single := range []bool{false, true} {
			checkCanonicalTok(t, &a, tok, single)
		}
	}
}

func checkCanonicalTok(t *testing.T, a *nameArena, tok string, singleOK bool) {
	t.Helper()
	n, reason := canonicalTokIn(a, []byte(tok), singleOK)
	wantName, wantReason := canonicalTokBefore([]byte(tok), singleOK)
	if n.String() != wantName || reason != wantReason {
		t.Errorf("canonicalTokIn(%q, %v) = %q, %q; before: %q, %q", tok, singleOK, n.String(), reason, wantName, wantReason)
	}
}

// FuzzCanonicalTok holds canonicalTokIn to the reference on any token.
func FuzzCanonicalTok(f *testing.F) {
	for _, tok := range canonicalTokCases {
		f.Add(tok, false)
	}
	f.Fuzz(func(t *testing.T, tok string, singleOK bool) {
		checkCanonicalTok(t, nil, tok, singleOK) // a nil arena: a string of its own (the test covers an arena)
	})
}
