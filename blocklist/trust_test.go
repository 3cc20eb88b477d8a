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
				got := want{int(m.Payload.List), m.Allow, m.Scope, m.Offset}
				if !ok {
					got = none
				}
				if got != w {
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
	labels := []string{"a", "b", "c"}
	name := func() string {
		n := labels[rng.IntN(3)]
		for range rng.IntN(3) {
			n = labels[rng.IntN(3)] + "." + n
		}
		return n + ".example"
	}
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
