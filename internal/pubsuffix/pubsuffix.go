// Package pubsuffix answers whether a name is a public suffix ("com",
// "co.uk", "github.io") exactly as golang.org/x/net/publicsuffix does,
// at a fraction of its cost for the names a block list holds.
//
// x/net walks its table label by label for every name, about half a
// microsecond each: a fifth of a million-name cold parse, where almost
// no name is a suffix. A name of two or more labels can only be one
// when a rule names it, or a wildcard rule ("*.ck") names its parent;
// Is settles every other name with a Bloom filter and sets built from
// the rules x/net's table was generated from (rules.txt, go generate), and
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
// written again. may is a Bloom filter over both, 16 KiB, which settles
// nearly every name of a list with one cache line and no map probe (a
// probe of either map misses the cache more often than not while a list
// is parsed: its keys are spread over a few hundred KiB).
type sets struct {
	exact, wild map[string]struct{}
	may         bloom
	// wildShape holds the shapes (shapeOf) of the wild parents: a name's
	// parent whose shape is not there is no wild parent, settled without
	// hashing it. The 278 wild parents are mostly long private names
	// ("compute.amazonaws.com") and a few two-letter TLDs ("ck"), so the
	// parent of nearly every listed name ("com", "example.co.uk") fails
	// this one load.
	wildShape [64]uint64
}

// shapeOf is the word and bit of s (not empty) in sets.wildShape: its
// length and its first byte, each modulo 64.
func shapeOf(s string) (word int, bit uint64) { return len(s) & 63, 1 << (s[0] & 63) }

// loadSets returns the sets, reading them on first use. It is a
// sync.Once, not a sync.OnceValue, so that it inlines: the call through
// OnceValue's function was a sixth of Is in a cold parse.
func loadSets() *sets {
	setsOnce.Do(readSets)
	return setsRead
}

var (
	setsOnce sync.Once
	setsRead *sets // written once, by readSets
)

func readSets() {
	s := &sets{exact: make(map[string]struct{}, 10300), wild: make(map[string]struct{}, 300)}
	for _, r := range strings.Split(ruleText, "\n") {
		switch {
		case r == "", r[0] == '#', r[0] == '!': // exceptions never make a suffix
		case strings.HasPrefix(r, "*."):
			s.wild[r[2:]] = struct{}{}
			s.may.add(hash(r[2:], wildSeed))
			w, bit := shapeOf(r[2:])
			s.wildShape[w] |= bit
		default:
			s.exact[r] = struct{}{}
			s.may.add(hash(r, exactSeed))
		}
	}
	setsRead = s
}

// bloomWords is the filter's size: 2^17 bits for about 10,000 keys, two
// bits a key in one word, about one false positive in fifty (which the
// maps then settle).
const bloomWords = 1 << 11

// bloom is a Bloom filter whose two probes of a key fall in one word.
type bloom [bloomWords]uint64

func (b *bloom) add(h uint64) { b[h%bloomWords] |= bloomBits(h) }

// has reports false only for a key never added.
func (b *bloom) has(h uint64) bool {
	m := bloomBits(h)
	return b[h%bloomWords]&m == m
}

func bloomBits(h uint64) uint64 { return 1<<(h>>52&63) | 1<<(h>>58) }

// The seeds of hash for the filter's two kinds of key, so that a string
// is another key as a rule than as a wildcard parent.
const (
	exactSeed = 0x9e3779b97f4a7c15
	wildSeed  = 0xc2b2ae3d27d4eb4f
)

// hash is a fast, fixed hash of s, eight bytes a step: a name that
// collides only costs map probes, so it need not resist attack. The
// bytes short of a last whole word are read as the word that ends s (in
// one load) when s is that long, the same value as byte by byte: about
// a seventh of Is.
func hash(s string, seed uint64) uint64 {
	const m = 0xff51afd7ed558ccd
	whole, n := s, len(s)
	h := seed ^ uint64(n)*m
	for ; len(s) >= 8; s = s[8:] {
		_ = s[7]
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ w) * m
		h ^= h >> 29
	}
	var w uint64
	if r := len(s); r > 0 && n >= 8 {
		// The word that ends the whole string, without the bytes the
		// loop above has had: one load rather than one per byte.
		t := whole[n-8:]
		_ = t[7]
		w = (uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56) >> (8 * (8 - r))
	} else {
		for i := 0; i < len(s); i++ {
			w |= uint64(s[i]) << (8 * i)
		}
	}
	h = (h ^ w) * m
	h ^= h >> 32
	h *= m
	return h ^ h>>29
}

// Is reports whether x/net's PublicSuffix(name) is name itself, compared
// without regard to case: a rule at name would cover names of countless
// unrelated owners. Like x/net it says yes for every single-label name
// and for IP addresses.
func Is(name string) bool {
	return candidate(name, true) && xnet(name)
}

// IsName is Is for a name known to hold no ':' (a DNS name in
// presentation form, as a parser's canonical names are), which it does
// not scan for: the same answer, one pass over the name fewer.
func IsName(name string) bool {
	return candidate(name, false) && xnet(name)
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
// With colons false name is known to hold no ':'.
func candidate(name string, colons bool) bool {
	dot := strings.IndexByte(name, '.')
	if dot < 0 || colons && strings.IndexByte(name, ':') >= 0 {
		return true
	}
	if c := name[len(name)-1]; '0' <= c && c <= '9' {
		return true
	}
	s := loadSets()
	if s.may.has(hash(name, exactSeed)) {
		if _, ok := s.exact[name]; ok {
			return true
		}
	}
	parent := name[dot+1:]
	if parent == "" { // "a.": no parent to be a wild rule's
		return false
	}
	if w, bit := shapeOf(parent); s.wildShape[w]&bit == 0 || !s.may.has(hash(parent, wildSeed)) {
		return false
	}
	_, ok := s.wild[parent]
	return ok
}
