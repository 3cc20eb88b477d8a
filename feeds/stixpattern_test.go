package feeds

import (
	"fmt"
	"slices"
	"testing"
)

// TestParseSTIXPattern is the pattern parser's contract: which patterns
// block, on which names, and why the others do not. Patterns are written
// from OASIS STIX 2.1 part 9 (Patterning) and its examples.
func TestParseSTIXPattern(t *testing.T) {
	tests := []struct {
		pattern string
		terms   []string // "path=value"
		other   int
		reason  string
		syntax  bool
	}{
		// Usable: equalities and ORs of them, at both levels.
		{pattern: "[domain-name:value = 'evil.example']", terms: []string{"domain-name:value=evil.example"}},
		{pattern: "[url:value = 'http://evil.example/login.php']", terms: []string{"url:value=http://evil.example/login.php"}},
		{pattern: "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']",
			terms: []string{"domain-name:value=a.example", "domain-name:value=b.example"}},
		{pattern: "[domain-name:value = 'a.example'] OR [url:value = 'https://b.example/x']",
			terms: []string{"domain-name:value=a.example", "url:value=https://b.example/x"}},
		{pattern: "([domain-name:value = 'a.example'] OR ([domain-name:value = 'b.example']))",
			terms: []string{"domain-name:value=a.example", "domain-name:value=b.example"}},
		{pattern: "[(domain-name:value = 'a.example' OR (domain-name:value = 'b.example'))]",
			terms: []string{"domain-name:value=a.example", "domain-name:value=b.example"}},
		{pattern: "  [ DOMAIN-NAME:VALUE='x.example' ]  ", terms: []string{"domain-name:value=x.example"}},
		{pattern: `[domain-name:value = 'it\'s.example']`, terms: []string{"domain-name:value=it's.example"}},
		{pattern: "[domain-name:value = 'a.example' or domain-name:value = 'b.example']",
			terms: []string{"domain-name:value=a.example", "domain-name:value=b.example"}},
		// An OR with other objects: the names still block, the rest is counted.
		{pattern: "[domain-name:value = 'a.example' OR ipv4-addr:value = '198.51.100.1']",
			terms: []string{"domain-name:value=a.example"}, other: 1},
		{pattern: "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] OR [domain-name:value = 'a.example']",
			terms: []string{"domain-name:value=a.example"}, other: 1},
		{pattern: "[domain-name:resolves_to_refs[*].value = '198.51.100.3' OR domain-name:value = 'a.example']",
			terms: []string{"domain-name:value=a.example"}, other: 1},
		// Valid, but not "any of these names": skipped.
		{pattern: "[ipv4-addr:value = '198.51.100.1/32']", other: 1, reason: ReasonSTIXObject},
		{pattern: "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']", other: 1, reason: ReasonSTIXObject},
		{pattern: "[network-traffic:dst_port = 443]", other: 1, reason: ReasonSTIXObject},
		{pattern: "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']", reason: ReasonSTIXAnd},
		{pattern: "[domain-name:value = 'a.example'] AND [url:value = 'http://b.example/']", reason: ReasonSTIXAnd},
		{pattern: "[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']", reason: ReasonSTIXFollowedBy},
		{pattern: "[domain-name:value = 'a.example'] WITHIN 300 SECONDS", reason: ReasonSTIXQualifier},
		{pattern: "[domain-name:value = 'a.example'] REPEATS 5 TIMES", reason: ReasonSTIXQualifier},
		{pattern: "[domain-name:value = 'a.example'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", reason: ReasonSTIXQualifier},
		{pattern: "[domain-name:value != 'a.example']", reason: ReasonSTIXOperator},
		{pattern: "[domain-name:value LIKE '%.example']", reason: ReasonSTIXOperator},
		{pattern: "[domain-name:value MATCHES '^evil\\\\.']", reason: ReasonSTIXOperator},
		{pattern: "[domain-name:value IN ('a.example', 'b.example')]", reason: ReasonSTIXOperator},
		{pattern: "[domain-name:value NOT = 'a.example']", reason: ReasonSTIXOperator},
		{pattern: "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", reason: ReasonSTIXOperator},
		{pattern: "[EXISTS domain-name:value]", reason: ReasonSTIXOperator},
		// Malformed: rejected.
		{pattern: "", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "domain-name:value = 'a.example'", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = 'a.example'", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = 'a.example]", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = ]", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value 'a.example']", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[value = 'a.example']", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = 'a.example'] OR", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = 'a.example'] [domain-name:value = 'b.example']", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = 'a.example'] AND [", reason: ReasonSTIXSyntax, syntax: true},
		{pattern: `[domain-name:value = 'bad\escape']`, reason: ReasonSTIXSyntax, syntax: true},
		{pattern: "[domain-name:value = 'a.example'] WITHIN 300 SECONDS 'x", reason: ReasonSTIXSyntax, syntax: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			res := ParseSTIXPattern(tt.pattern)
			var terms []string
			for _, x := range res.Terms {
				terms = append(terms, x.Path+"="+x.Value)
			}
			if !slices.Equal(terms, tt.terms) || res.Other != tt.other || res.Reason != tt.reason || res.Syntax != tt.syntax {
				t.Errorf("got terms %q other %d reason %q syntax %v; want %q %d %q %v",
					terms, res.Other, res.Reason, res.Syntax, tt.terms, tt.other, tt.reason, tt.syntax)
			}
		})
	}
}

// TestParseSTIXPatternBounds: a deeply nested or huge pattern is refused,
// not recursed into.
func TestParseSTIXPatternBounds(t *testing.T) {
	deep := ""
	for range 1000 {
		deep += "("
	}
	deep += "[domain-name:value = 'a.example']"
	for range 1000 {
		deep += ")"
	}
	if res := ParseSTIXPattern(deep); res.Reason != ReasonSTIXSyntax {
		t.Errorf("deep pattern: reason %q, want %q", res.Reason, ReasonSTIXSyntax)
	}
	big := "[domain-name:value = 'a.example'"
	for i := 0; len(big) < maxPatternLen; i++ {
		big += fmt.Sprintf(" OR domain-name:value = 'n%d.example'", i)
	}
	if res := ParseSTIXPattern(big + "]"); res.Reason != ReasonSTIXSyntax {
		t.Errorf("huge pattern: reason %q, want %q", res.Reason, ReasonSTIXSyntax)
	}
}
