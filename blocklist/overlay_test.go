package blocklist

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOverlay: a Set with an overlay answers every query exactly as the
// Set compiled from scratch with the same changes would.
func TestOverlay(t *testing.T) {
	base := []Rule{
		r("example.com", Subtree, false, 0),
		r("ads.example.com", Exact, false, 1),
		r("ok.example.com", Subtree, true, 2),
		r("tracker.net", Below, false, 3),
		r("deep.a.b.c.org", Exact, false, 4),
	}
	tests := []struct {
		name    string
		names   []string
		changed []Rule
	}{
		{"add a new name", []string{"new.example"}, []Rule{r("new.example", Exact, false, 5)}},
		{"add below a trie leaf", []string{"x.ads.example.com"}, []Rule{r("x.ads.example.com", Subtree, false, 5)}},
		{"add deep beyond the trie", []string{"a.b.c.d.tracker.net"}, []Rule{r("a.b.c.d.tracker.net", Exact, true, 5)}},
		{"remove a name", []string{"ads.example.com"}, nil},
		{"remove the parent", []string{"example.com"}, nil},
		{"replace with an allow", []string{"example.com"}, []Rule{r("example.com", Subtree, true, 6)}},
		{"two rules on one name", []string{"tracker.net"}, []Rule{r("tracker.net", Exact, false, 5), r("tracker.net", Below, true, 6)}},
		{"tie: first given wins", []string{"z.org"}, []Rule{r("z.org", Subtree, false, 7), r("z.org", Subtree, false, 8)}},
		{"the root", []string{""}, []Rule{r("", Below, false, 9)}},
		{"several at once", []string{"example.com", "new.example", "deep.a.b.c.org"},
			[]Rule{r("example.com", Exact, false, 5), r("new.example", Below, false, 6)}},
	}
	queries := []string{"example.com", "www.example.com", "ads.example.com", "x.ads.example.com", "y.x.ads.example.com",
		"ok.example.com", "a.ok.example.com", "tracker.net", "t.tracker.net", "a.b.c.d.tracker.net", "b.c.d.tracker.net",
		"deep.a.b.c.org", "a.b.c.org", "new.example", "sub.new.example", "z.org", "other.invalid", "EXAMPLE.com.", "", "."}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := mustBuild(t, applyChanges(base, tt.names, tt.changed)...)
			got, err := mustBuild(t, base...).WithOverlay(tt.names, tt.changed)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range queries {
				compareMatch(t, q, got, want)
			}
		})
	}
}

// applyChanges is what the overlay must amount to: base without the rules
// of names, then changed.
func applyChanges(base []Rule, names []string, changed []Rule) []Rule {
	var out []Rule
	for _, r := range base {
		if !slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return append(out, changed...)
}

// randomChange is a random IXFR for the overlay tests: up to most distinct
// names, each with zero to two new rules made by rule (zero deletes the
// name's rules).
func randomChange(rng *rand.Rand, most int, name func() string, rule func(string) Rule) (names []string, changed []Rule) {
	for range 1 + rng.IntN(most) {
		nm := name()
		if slices.Contains(names, nm) {
			continue
		}
		names = append(names, nm)
		for range rng.IntN(3) {
			changed = append(changed, rule(nm))
		}
	}
	return names, changed
}

// compareMatch compares Match, and MatchView for every view of lists 0-3
// (a tenant's, which must see the overlay too).
func compareMatch(t *testing.T, q string, got, want *Set) {
	t.Helper()
	gm, gok := got.Match(q)
	wm, wok := want.Match(q)
	if gm != wm || gok != wok {
		t.Errorf("Match(%q) = %+v %v with the overlay, %+v %v compiled", q, gm, gok, wm, wok)
	}
	for mask := range 16 {
		var v View
		for l := range 4 {
			if mask&(1<<l) != 0 {
				v = v.With(uint16(l))
			}
		}
		gm, gok := got.MatchView(q, v)
		wm, wok := want.MatchView(q, v)
		if gm != wm || gok != wok {
			t.Errorf("MatchView(%q, lists %04b) = %+v %v with the overlay, %+v %v compiled", q, mask, gm, gok, wm, wok)
		}
	}
}

// TestOverlayRandom compares overlays and fresh builds on random rule sets
// over a small alphabet of labels, so that names nest often.
func TestOverlayRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	labels := []string{"a", "b", "c", "com"}
	name := func() string {
		n := 1 + rng.IntN(4)
		s := ""
		for i := range n {
			if i > 0 {
				s = "." + s
			}
			s = labels[rng.IntN(len(labels))] + s
		}
		return s
	}
	rule := func(nm string, list int) Rule {
		return r(nm, Scope(rng.IntN(3)), rng.IntN(3) == 0, uint16(list))
	}
	// Few lists, so that they meet at names and views differ.
	change := func() ([]string, []Rule) {
		return randomChange(rng, 4, name, func(nm string) Rule { return rule(nm, rng.IntN(4)) })
	}
	for round := range 300 {
		var base []Rule
		for range 1 + rng.IntN(20) {
			base = append(base, rule(name(), rng.IntN(4)))
		}
		names, changed := change()
		rules := applyChanges(base, names, changed)
		got, err := mustBuild(t, base...).WithOverlay(names, changed)
		if err != nil {
			t.Fatal(err)
		}
		names2, changed2 := names, changed
		if round%2 == 1 { // an overlay on an overlay
			names2, changed2 = change()
			rules = applyChanges(rules, names2, changed2)
			if got, err = got.WithOverlay(names2, changed2); err != nil {
				t.Fatal(err)
			}
		}
		want := mustBuild(t, rules...)
		for range 30 {
			q := name()
			if rng.IntN(2) == 0 {
				q = "x." + q
			}
			compareMatch(t, q, got, want)
		}
		if t.Failed() {
			t.Fatalf("round %d: base %v, names %v, changed %v, then names %v, changed %v", round, base, names, changed, names2, changed2)
		}
	}
}

// TestOverlayRejects: a rule outside the overlay's names is refused.
func TestOverlayRejects(t *testing.T) {
	if _, err := mustBuild(t).WithOverlay([]string{"a.com"}, []Rule{r("b.com", Exact, false, 0)}); err == nil {
		t.Error("a rule outside names was accepted")
	}
}
