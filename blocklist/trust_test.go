package blocklist

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestFeedTrust is the feed-trust contract, one rule per row: an allow
// rule inside a block list lifts only that list's blocks, RPZ zones keep
// zone order, and only allowlists lift globally.
func TestFeedTrust(t *testing.T) {
	adblock := ListInfo{Name: "adblock"}
	domains := ListInfo{Name: "domains"}
	zone1 := ListInfo{Name: "zone1", RPZ: true}
	zone2 := ListInfo{Name: "zone2", RPZ: true}
	allowlist := ListInfo{Name: "allowlist", Allow: true}
	tests := []struct {
		name    string
		lists   []ListInfo
		rules   []Rule
		queries map[string]want
	}{
		{
			name:  "a feed's @@ lifts its own block",
			lists: []ListInfo{adblock},
			rules: []Rule{r("evil.example", Subtree, false, 0), r("good.evil.example", Subtree, true, 0)},
			queries: map[string]want{
				"good.evil.example":   allow(0, Subtree, 0),
				"x.good.evil.example": allow(0, Subtree, 2),
				"bad.evil.example":    block(0, Subtree, 4),
			},
		},
		{
			name:  "a feed's @@ does not lift another feed's block",
			lists: []ListInfo{adblock, domains},
			rules: []Rule{r("good.evil.example", Subtree, true, 0), r("evil.example", Subtree, false, 1)},
			queries: map[string]want{
				"good.evil.example": block(1, Subtree, 5),
				"evil.example":      block(1, Subtree, 0),
			},
		},
		{
			name:  "nor one in an earlier feed at the same name",
			lists: []ListInfo{adblock, domains},
			rules: []Rule{r("evil.example", Subtree, true, 0), r("evil.example", Subtree, false, 1)},
			queries: map[string]want{
				"evil.example":   block(1, Subtree, 0),
				"a.evil.example": block(1, Subtree, 2),
			},
		},
		{
			name:  "a feed's @@ and another feed's @@: each lifts its own",
			lists: []ListInfo{adblock, domains},
			rules: []Rule{
				r("evil.example", Subtree, false, 0), r("good.evil.example", Subtree, true, 0),
				r("evil.example", Subtree, false, 1), r("good.evil.example", Exact, true, 1),
			},
			queries: map[string]want{
				"good.evil.example":   allow(1, Exact, 0),   // both feeds pass it
				"x.good.evil.example": block(1, Subtree, 7), // feed 1's exception is exact only
			},
		},
		{
			name:  "an allowlist lifts every feed's block, if as specific",
			lists: []ListInfo{adblock, domains, allowlist},
			rules: []Rule{
				r("evil.example", Subtree, false, 0), r("good.evil.example", Subtree, false, 1),
				r("good.evil.example", Subtree, true, 2), r("updog.co", Subtree, true, 2), r("binance.updog.co", Subtree, false, 0),
			},
			queries: map[string]want{
				"good.evil.example": allow(2, Subtree, 0),
				"x.evil.example":    block(0, Subtree, 2),
				"binance.updog.co":  block(0, Subtree, 0), // a broader exception never widens
				"www.updog.co":      allow(2, Subtree, 4),
			},
		},
		{
			name:  "an earlier zone's passthru wins over a later zone",
			lists: []ListInfo{zone1, zone2},
			rules: []Rule{r("ok.example", Exact, true, 0), r("example", Below, false, 1)},
			queries: map[string]want{
				"ok.example":  allow(0, Exact, 0),
				"bad.example": block(1, Below, 4),
			},
		},
		{
			name:  "an earlier zone's broader passthru wins over a later zone's more specific block",
			lists: []ListInfo{zone1, zone2},
			rules: []Rule{r("example", Subtree, true, 0), r("bad.example", Exact, false, 1)},
			queries: map[string]want{
				"bad.example": allow(0, Subtree, 4), // the first zone that matches decides
			},
		},
		{
			name:  "but not over a plain list's",
			lists: []ListInfo{zone1, domains},
			rules: []Rule{r("example", Subtree, true, 0), r("bad.example", Exact, false, 1)},
			queries: map[string]want{
				"bad.example": block(1, Exact, 0),
			},
		},
		{
			name:  "a later zone's passthru never lifts an earlier zone",
			lists: []ListInfo{zone1, zone2},
			rules: []Rule{r("example", Below, false, 0), r("ok.example", Exact, true, 1)},
			queries: map[string]want{
				"ok.example": block(0, Below, 3),
			},
		},
		{
			name:  "a zone's passthru does not lift a plain feed after it",
			lists: []ListInfo{zone1, domains},
			rules: []Rule{r("ok.example", Exact, true, 0), r("example", Subtree, false, 1)},
			queries: map[string]want{
				"ok.example": block(1, Subtree, 3),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := &Table{Set: mustBuild(t, tt.rules...), Lists: tt.lists}
			ref := newRef()
			for _, rule := range tt.rules {
				_ = ref.add(rule)
			}
			for q, w := range tt.queries {
				m, ok := tab.Decide(q)
				if got := wantOf(m, ok); got != w {
					t.Errorf("Decide(%q) = %+v, want %+v", q, got, w)
				}
				blocked, by := ref.decideTrusted(q, tt.lists)
				if blocked != (ok && !m.Allow) || blocked && !by[m.Payload.List] {
					t.Errorf("Decide(%q) = %+v; the reference says blocked %v by %v", q, m, blocked, by)
				}
			}
		})
	}
}

// TestFeedTrustAgainstReference compares Decide with the reference on
// random lists of every kind over a small name space, where rules meet.
func TestFeedTrustAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2))
	name := trustNames(rng)
	for round := range 200 {
		var lists []ListInfo
		for i := range 2 + rng.IntN(4) {
			l := ListInfo{Name: fmt.Sprint("l", i)}
			switch rng.IntN(4) {
			case 0:
				l.RPZ = true
			case 1:
				l.Allow = true
			}
			lists = append(lists, l)
		}
		var rules []Rule
		ref := newRef()
		for range 3 + rng.IntN(8) {
			list := uint16(rng.IntN(len(lists)))
			rule := r(name(), Scope(rng.IntN(3)), lists[list].Allow || rng.IntN(3) == 0, list)
			rules = append(rules, rule)
			_ = ref.add(rule)
		}
		tab := &Table{Set: mustBuild(t, rules...), Lists: lists}
		for range 30 {
			q := name()
			m, ok := tab.Decide(q)
			blocked, by := ref.decideTrusted(q, lists)
			if blocked != (ok && !m.Allow) || blocked && !by[m.Payload.List] {
				t.Fatalf("round %d: lists %+v rules %+v\nDecide(%q) = %+v %v; the reference says blocked %v by %v",
					round, lists, rules, q, m, ok, blocked, by)
			}
		}
	}
}

func BenchmarkDecideUnderFeedAllow(b *testing.B) {
	tab := &Table{Set: mustBuild(b, r("evil.example", Subtree, false, 0), r("good.evil.example", Subtree, true, 0),
		r("evil.example", Subtree, false, 1)), Lists: []ListInfo{{Name: "a"}, {Name: "b"}}}
	b.ReportAllocs()
	for b.Loop() {
		tab.Decide("www.good.evil.example")
	}
}

// TestFeedTrustOverlay: the feed-trust rules hold on a Set with an IXFR
// overlay (WithOverlay) exactly as on the rebuilt one, one row per rule
// an overlay can add or take away.
func TestFeedTrustOverlay(t *testing.T) {
	zone1 := ListInfo{Name: "zone1", RPZ: true}
	zone2 := ListInfo{Name: "zone2", RPZ: true}
	domains := ListInfo{Name: "domains"}
	allowlist := ListInfo{Name: "allowlist", Allow: true}
	tests := []struct {
		name    string
		lists   []ListInfo
		base    []Rule
		names   []string
		changed []Rule
		queries map[string]want
	}{
		{
			name:  "a passthru added to an earlier zone lifts a later zone's block",
			lists: []ListInfo{zone1, zone2},
			base:  []Rule{r("evil.example", Subtree, false, 1)},
			names: []string{"ok.evil.example"}, changed: []Rule{r("ok.evil.example", Exact, true, 0)},
			queries: map[string]want{"ok.evil.example": allow(0, Exact, 0), "x.ok.evil.example": block(1, Subtree, 5)},
		},
		{
			name:  "a passthru added to a later zone never lifts an earlier zone's block",
			lists: []ListInfo{zone1, zone2},
			base:  []Rule{r("evil.example", Subtree, false, 0)},
			names: []string{"ok.evil.example"}, changed: []Rule{r("ok.evil.example", Exact, true, 1)},
			queries: map[string]want{"ok.evil.example": block(0, Subtree, 3)},
		},
		{
			name:  "a passthru added to a zone does not lift a plain list's block",
			lists: []ListInfo{zone1, domains},
			base:  []Rule{r("evil.example", Subtree, false, 1)},
			names: []string{"evil.example"}, changed: []Rule{r("evil.example", Subtree, true, 0), r("evil.example", Subtree, false, 1)},
			queries: map[string]want{"evil.example": block(1, Subtree, 0), "a.evil.example": block(1, Subtree, 2)},
		},
		{
			name:    "a passthru removed: the later zone's block is back",
			lists:   []ListInfo{zone1, zone2},
			base:    []Rule{r("ok.evil.example", Exact, true, 0), r("evil.example", Subtree, false, 1)},
			names:   []string{"ok.evil.example"},
			queries: map[string]want{"ok.evil.example": block(1, Subtree, 3)},
		},
		{
			name:  "a zone's block removed at a name where the later zone blocks too: the later one decides",
			lists: []ListInfo{zone1, zone2},
			base:  []Rule{r("evil.example", Exact, false, 0), r("evil.example", Exact, false, 1)},
			names: []string{"evil.example"}, changed: []Rule{r("evil.example", Exact, false, 1)},
			queries: map[string]want{"evil.example": block(1, Exact, 0)},
		},
		{
			name:  "blocks added under an allowlisted name: the allowlist lifts only those no more specific than it",
			lists: []ListInfo{zone1, allowlist},
			base:  []Rule{r("cdn.example", Subtree, true, 1)},
			names: []string{"evil.cdn.example", "cdn.example"},
			changed: []Rule{r("evil.cdn.example", Subtree, false, 0), r("cdn.example", Subtree, true, 1),
				r("cdn.example", Exact, false, 0)},
			queries: map[string]want{"evil.cdn.example": block(0, Subtree, 0), "cdn.example": block(0, Exact, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := mustBuild(t, tt.base...).WithOverlay(tt.names, tt.changed)
			if err != nil {
				t.Fatal(err)
			}
			tab := &Table{Set: set, Lists: tt.lists}
			rebuilt := &Table{Set: mustBuild(t, applyChanges(tt.base, tt.names, tt.changed)...), Lists: tt.lists}
			for q, w := range tt.queries {
				m, ok := tab.Decide(q)
				if got := wantOf(m, ok); got != w {
					t.Errorf("Decide(%q) with the overlay = %+v, want %+v", q, got, w)
				}
				if rm, rok := rebuilt.Decide(q); rm != m || rok != ok {
					t.Errorf("Decide(%q) = %+v %v with the overlay, %+v %v rebuilt", q, m, ok, rm, rok)
				}
			}
		})
	}
}

// TestFeedTrustOverlayAgainstReference is TestFeedTrustAgainstReference
// on Sets with one or two overlays that add and remove rules (allow rules
// often) in lists of every kind: Decide matches the reference of the
// changed rules, and DecideView over a random view matches Decide on the
// view's rules alone.
func TestFeedTrustOverlayAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 3))
	name := trustNames(rng)
	for round := range 300 {
		var lists []ListInfo
		for i := range 2 + rng.IntN(4) {
			l := ListInfo{Name: fmt.Sprint("l", i)}
			switch rng.IntN(4) {
			case 0, 1:
				l.RPZ = true
			case 2:
				if rng.IntN(2) == 0 {
					l.Allow = true
				}
			}
			lists = append(lists, l)
		}
		rule := func(n string) Rule {
			list := uint16(rng.IntN(len(lists)))
			return r(n, Scope(rng.IntN(3)), lists[list].Allow || rng.IntN(2) == 0, list)
		}
		var base []Rule
		for range 3 + rng.IntN(8) {
			base = append(base, rule(name()))
		}
		change := func() ([]string, []Rule) { return randomChange(rng, 3, name, rule) }
		names, changed := change()
		rules := applyChanges(base, names, changed)
		set, err := mustBuild(t, base...).WithOverlay(names, changed)
		if err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 { // a second IXFR before the rebuild
			n2, c2 := change()
			rules = applyChanges(rules, n2, c2)
			if set, err = set.WithOverlay(n2, c2); err != nil {
				t.Fatal(err)
			}
		}
		tab := &Table{Set: set, Lists: lists}
		ref := newRef()
		for _, rule := range rules {
			_ = ref.add(rule)
		}
		var v View
		for l := range lists {
			if rng.IntN(2) == 0 {
				v = v.With(uint16(l))
			}
		}
		if v == nil { // nil is every list's view
			v = v.With(uint16(rng.IntN(len(lists))))
		}
		var inView []Rule
		for _, rule := range rules {
			if v.Has(rule.Payload.List) {
				inView = append(inView, rule)
			}
		}
		viewTab := &Table{Set: mustBuild(t, inView...), Lists: lists}
		for range 30 {
			q := name()
			if rng.IntN(3) == 0 {
				q = "x." + q
			}
			m, ok := tab.Decide(q)
			blocked, by := ref.decideTrusted(q, lists)
			if blocked != (ok && !m.Allow) || blocked && !by[m.Payload.List] {
				t.Fatalf("round %d: lists %+v rules %+v (base %+v, changed %v %+v)\nDecide(%q) = %+v %v; the reference says blocked %v by %v",
					round, lists, rules, base, names, changed, q, m, ok, blocked, by)
			}
			vm, vok := tab.DecideView(q, v)
			wm, wok := viewTab.Decide(q)
			if (vok && !vm.Allow) != (wok && !wm.Allow) || vok && !vm.Allow && vm.Payload.List != wm.Payload.List {
				t.Fatalf("round %d: DecideView(%q, %v) = %+v %v with the overlay; the view's rules alone decide %+v %v",
					round, q, v, vm, vok, wm, wok)
			}
		}
	}
}

// BenchmarkDecideZoneBlock is the decision on a name the second of two
// RPZ zones blocks (the earlier zone is asked for a passthru), beside a
// plain list's block and an unlisted name.
func BenchmarkDecideZoneBlock(b *testing.B) {
	tab := &Table{Set: mustBuild(b, r("example", Subtree, false, 2), r("bad.example", Exact, false, 1), r("ok.other", Exact, true, 0)),
		Lists: []ListInfo{{Name: "z0", RPZ: true}, {Name: "z1", RPZ: true}, {Name: "plain"}}}
	for _, q := range []string{"bad.example", "x.example", "www.unlisted.test"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tab.Decide(q)
			}
		})
	}
}

// trustNames returns random names over a small name space, where rules
// meet: up to three labels of a, b, c under example.
func trustNames(rng *rand.Rand) func() string {
	labels := []string{"a", "b", "c"}
	return func() string {
		n := labels[rng.IntN(3)]
		for range rng.IntN(3) {
			n = labels[rng.IntN(3)] + "." + n
		}
		return n + ".example"
	}
}
