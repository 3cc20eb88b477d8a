package main

import (
	"math/rand/v2"
	"strings"
)

// The synthetic list follows /work/shared/bench-reference/gen/gen_data.py,
// which made the 1M-name list the reference resolvers were measured with:
// labels of 3-24 bytes (gauss mean 9, sd 4), pronounceable / random /
// alphanumeric, 12% with a hyphen, 30 weighted TLDs, 25% with one
// subdomain label and 7% with two. Go's generator is not Python's, so the
// names differ; the distributions are the same.

var tldWeights = []struct {
	tld string
	w   int
}{
	{"com", 45}, {"net", 8}, {"org", 6}, {"io", 3}, {"ru", 3}, {"de", 3},
	{"info", 3}, {"xyz", 3}, {"top", 3}, {"cn", 2}, {"co.uk", 2}, {"com.br", 2},
	{"jp", 1}, {"fr", 1}, {"online", 2}, {"site", 2}, {"club", 1}, {"biz", 1},
	{"us", 1}, {"in", 1}, {"pl", 1}, {"it", 1}, {"nl", 1}, {"tk", 1}, {"app", 1},
	{"live", 1}, {"store", 1}, {"com.au", 1}, {"co", 1}, {"me", 1},
}

var subLabels = []string{"www", "ads", "ad", "cdn", "track", "tracker", "metrics", "stats", "pixel",
	"api", "static", "img", "m", "mobile", "analytics", "log", "click", "go",
	"s", "t", "collect", "beacon", "telemetry", "sdk", "events", "srv", "edge"}

var syllables = []string{"ba", "be", "bi", "bo", "ca", "co", "da", "de", "di", "do", "fa", "fi", "ga",
	"go", "ha", "in", "ka", "ko", "la", "le", "li", "lo", "ma", "me", "mi", "mo",
	"na", "ne", "no", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "sa", "se",
	"si", "so", "ta", "te", "ti", "to", "va", "ve", "vi", "za", "zo", "ex", "on",
	"er", "an", "st", "tr", "ck", "ly", "ix", "ad", "net", "web", "hub", "ing"}

type generator struct {
	rng    *rand.Rand
	tldPop []string
}

func newGenerator(seed uint64) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x5bd1e995))}
	for _, t := range tldWeights {
		for range t.w {
			g.tldPop = append(g.tldPop, t.tld)
		}
	}
	return g
}

func (g *generator) label() string {
	n := max(3, min(24, int(g.rng.NormFloat64()*4+9)))
	var b strings.Builder
	switch k := g.rng.Float64(); {
	case k < 0.55: // pronounceable
		for b.Len() < n {
			b.WriteString(syllables[g.rng.IntN(len(syllables))])
		}
	case k < 0.85: // random letters
		for range n {
			b.WriteByte("abcdefghijklmnopqrstuvwxyz"[g.rng.IntN(26)])
		}
	default: // letters and digits (tracker/CDN-ish)
		for range n {
			b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[g.rng.IntN(36)])
		}
	}
	s := []byte(b.String()[:n])
	if len(s) > 6 && g.rng.Float64() < 0.12 {
		s[2+g.rng.IntN(len(s)-4)] = '-'
	}
	return string(s)
}

func (g *generator) domain() string {
	d := g.label() + "." + g.tldPop[g.rng.IntN(len(g.tldPop))]
	switch k := g.rng.Float64(); {
	case k < 0.25:
		if g.rng.Float64() < 0.6 {
			d = subLabels[g.rng.IntN(len(subLabels))] + "." + d
		} else {
			d = g.label() + "." + d
		}
	case k < 0.32:
		d = g.label() + "." + subLabels[g.rng.IntN(len(subLabels))] + "." + d
	}
	return d
}

// synthetic returns n unique names, the same for the same seed.
func synthetic(n int, seed uint64) []string {
	g := newGenerator(seed)
	seen := make(map[string]struct{}, n)
	out := make([]string, 0, n)
	for len(out) < n {
		d := g.domain()
		if _, dup := seen[d]; dup {
			continue
		}
		seen[d] = struct{}{}
		out = append(out, d)
	}
	return out
}
