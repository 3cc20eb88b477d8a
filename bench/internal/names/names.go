// Package names generates realistic synthetic domain names, deterministically
// from a seed, for the benchmarks: the same shape as the 1M-name list the
// reference resolvers were measured with (shared/bench-reference/gen):
// labels of 3-24 characters (gauss mean 9, sd 4), 55% pronounceable, 30%
// random letters, 15% letters and digits, 12% of labels longer than 6 with
// a hyphen, 30 weighted TLDs, 25% with one subdomain label and 7% with two.
// Go's generator is not Python's, so the names differ; the distributions
// are the same.
package names

import "math/rand/v2"

var tlds = []struct {
	name   string
	weight int
}{
	{"com", 45}, {"net", 8}, {"org", 6}, {"io", 3}, {"ru", 3}, {"de", 3},
	{"info", 3}, {"xyz", 3}, {"top", 3}, {"cn", 2}, {"co.uk", 2}, {"com.br", 2},
	{"jp", 1}, {"fr", 1}, {"online", 2}, {"site", 2}, {"club", 1}, {"biz", 1},
	{"us", 1}, {"in", 1}, {"pl", 1}, {"it", 1}, {"nl", 1}, {"tk", 1}, {"app", 1},
	{"live", 1}, {"store", 1}, {"com.au", 1}, {"co", 1}, {"me", 1},
}

// subs are the subdomain labels trackers and CDNs use most.
var subs = []string{"www", "ads", "ad", "cdn", "track", "tracker", "metrics", "stats", "pixel",
	"api", "static", "img", "m", "mobile", "analytics", "log", "click", "go",
	"s", "t", "collect", "beacon", "telemetry", "sdk", "events", "srv", "edge"}

var syllables = []string{"ba", "be", "bi", "bo", "ca", "co", "da", "de", "di", "do", "fa", "fi", "ga",
	"go", "ha", "in", "ka", "ko", "la", "le", "li", "lo", "ma", "me", "mi", "mo",
	"na", "ne", "no", "pa", "pe", "pi", "po", "ra", "re", "ri", "ro", "sa", "se",
	"si", "so", "ta", "te", "ti", "to", "va", "ve", "vi", "za", "zo", "ex", "on",
	"er", "an", "st", "tr", "ck", "ly", "ix", "ad", "net", "web", "hub", "ing"}

const (
	letters = "abcdefghijklmnopqrstuvwxyz"
	alnum   = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// Generator yields names; the same seed gives the same sequence. Not safe
// for concurrent use.
type Generator struct {
	r      *rand.Rand
	tldPop []string
	buf    []byte
}

// New returns a generator seeded with seed.
func New(seed uint64) *Generator {
	g := &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, t := range tlds {
		for range t.weight {
			g.tldPop = append(g.tldPop, t.name)
		}
	}
	return g
}

// Rand is the generator's random source, for callers that draw more from
// the same seeded sequence.
func (g *Generator) Rand() *rand.Rand { return g.r }

// Label returns one label.
func (g *Generator) Label() string {
	n := max(3, min(24, int(g.r.NormFloat64()*4+9)))
	b := g.buf[:0]
	switch k := g.r.Float64(); {
	case k < 0.55: // pronounceable
		for len(b) < n {
			b = append(b, syllables[g.r.IntN(len(syllables))]...)
		}
		b = b[:n]
	case k < 0.85: // random letters
		for range n {
			b = append(b, letters[g.r.IntN(len(letters))])
		}
	default: // letters and digits (tracker / CDN style)
		for range n {
			b = append(b, alnum[g.r.IntN(len(alnum))])
		}
	}
	if len(b) > 6 && g.r.Float64() < 0.12 {
		b[2+g.r.IntN(len(b)-4)] = '-' // never first or last
	}
	g.buf = b
	return string(b)
}

// Sub returns a subdomain label: a common one 60% of the time.
func (g *Generator) Sub() string {
	if g.r.Float64() < 0.6 {
		return subs[g.r.IntN(len(subs))]
	}
	return g.Label()
}

// Domain returns one registered domain, with one or two subdomain labels
// at the reference rates.
func (g *Generator) Domain() string {
	d := g.Label() + "." + g.tldPop[g.r.IntN(len(g.tldPop))]
	switch k := g.r.Float64(); {
	case k < 0.25:
		d = g.Sub() + "." + d
	case k < 0.32:
		d = g.Label() + "." + subs[g.r.IntN(len(subs))] + "." + d
	}
	return d
}

// Unique returns n distinct names.
func Unique(n int, seed uint64) []string {
	g := New(seed)
	seen := make(map[string]struct{}, n)
	out := make([]string, 0, n)
	for len(out) < n {
		d := g.Domain()
		if _, dup := seen[d]; dup {
			continue
		}
		seen[d] = struct{}{}
		out = append(out, d)
	}
	return out
}
