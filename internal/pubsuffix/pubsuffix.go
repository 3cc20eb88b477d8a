// Package pubsuffix answers whether a name is a public suffix ("com",
// "co.uk", "github.io") exactly as golang.org/x/net/publicsuffix does,
// at a fraction of its cost for the names a block list holds.
//
// x/net walks its table label by label for every name, about half a
// microsecond each: a fifth of a million-name cold parse, where almost
// no name is a suffix. A name of two or more labels can only be one
// when a rule names it, or a wildcard rule ("*.ck") names its parent;
// Is settles every other name with two lookups in sets built from the
// rules x/net's table was generated from (rules.txt, go generate), and
// asks x/net itself about the few that remain, so the answer is always
// x/net's own. TestDifferential and FuzzIs hold the two to the same
// answers; TestVersion fails when go.mod moves x/net past rules.txt.
package pubsuffix

//go:generate go run gen.go

import (
	_ "embed"
	"strings"
	"sync"

	"golang.org/x/net/publicsuffix"
)

// ruleText is x/net's rules, one a line, in its order, after a "#" line
// naming the x/net version: plain rules, wildcard rules ("*." and their
// parent) and exception rules ("!"), which only ever make a name not a
// suffix (the tests probe them).
//
//go:embed rules.txt
var ruleText string

// sets are the names a rule makes a suffix (exact) and the parents of
// wildcard rules (wild), read from ruleText once, on first use, and never
// written again.
type sets struct {
	exact, wild map[string]struct{}
}

var loadSets = sync.OnceValue(func() *sets {
	s := &sets{exact: make(map[string]struct{}, 10300), wild: make(map[string]struct{}, 300)}
	for _, r := range strings.Split(ruleText, "\n") {
		switch {
		case r == "", r[0] == '#', r[0] == '!': // exceptions never make a suffix
		case strings.HasPrefix(r, "*."):
			s.wild[r[2:]] = struct{}{}
		default:
			s.exact[r] = struct{}{}
		}
	}
	return s
})

// Is reports whether x/net's PublicSuffix(name) is name itself, compared
// without regard to case: a rule at name would cover names of countless
// unrelated owners. Like x/net it says yes for every single-label name
// and for IP addresses.
func Is(name string) bool {
	return candidate(name) && xnet(name)
}

// xnet is the answer of golang.org/x/net/publicsuffix itself.
func xnet(name string) bool {
	ps, _ := publicsuffix.PublicSuffix(name)
	return strings.EqualFold(ps, name)
}

// candidate reports whether x/net could say name is a public suffix; a
// false answer is final. x/net says so for an IP address (all of which
// hold ':' or end in a digit); for a name that no rule matches, only when
// it is one label (the default rule "*"); otherwise the rule that matched
// must cover the whole name: a plain rule equal to it, or a wildcard rule
// at its parent (an exception rule only ever shortens the match). x/net
// matches labels byte for byte, so case needs no folding here either.
func candidate(name string) bool {
	dot := strings.IndexByte(name, '.')
	if dot < 0 || strings.IndexByte(name, ':') >= 0 {
		return true
	}
	if c := name[len(name)-1]; '0' <= c && c <= '9' {
		return true
	}
	s := loadSets()
	if _, ok := s.exact[name]; ok {
		return true
	}
	_, ok := s.wild[name[dot+1:]]
	return ok
}
