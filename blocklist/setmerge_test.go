package blocklist

import (
	"fmt"
	"testing"
)

// Merging compiled sets in list order decides every name as one builder
// fed all their rules in that order would: the first list wins ties, and
// a rule that won only one slot of a name in its own list competes only
// for that slot.
func TestAddSetMatchesOneBuild(t *testing.T) {
	sink := func(list uint16) Payload { return Payload{List: list, Action: ActionSinkhole} }
	for _, tt := range []struct {
		name  string
		lists [][]Rule
		query []string
	}{
		{"first list wins a tie", [][]Rule{
			{r("evil.example", Subtree, false, 0)},
			{r("evil.example", Subtree, false, 1)},
		}, []string{"evil.example", "a.evil.example", "example"}},
		{"a later allow beats an earlier block", [][]Rule{
			{r("evil.example", Subtree, false, 0)},
			{r("ok.evil.example", Subtree, true, 1)},
		}, []string{"ok.evil.example", "x.ok.evil.example", "evil.example"}},
		{"exact beats subtree at the name, across lists", [][]Rule{
			{r("a.example", Subtree, false, 0)},
			{r("a.example", Exact, false, 1)},
		}, []string{"a.example", "b.a.example"}},
		{"a subtree rule that lost the self slot in its list stays out of it", [][]Rule{
			// List 0: "*.x.example" (below) first, then subtree x.example:
			// below slot keeps the below rule (first), self slot the subtree.
			{
				{Name: "x.example", Scope: Below, Payload: Payload{List: 0, Action: ActionRefused}},
				{Name: "x.example", Scope: Subtree, Payload: Payload{List: 0, Action: ActionNull}},
			},
			{r("x.example", Subtree, false, 1)},
		}, []string{"x.example", "a.x.example"}},
		{"payloads of one list differ (RPZ actions)", [][]Rule{
			{
				{Name: "a.example", Payload: sink(0)},
				{Name: "b.a.example", Scope: Exact, Payload: Payload{List: 0, Action: ActionNoData}},
			},
			{{Name: "a.example", Allow: true, Scope: Exact, Payload: Payload{List: 1}}},
		}, []string{"a.example", "b.a.example", "c.a.example", "c.b.a.example"}},
		{"root rules and long labels", [][]Rule{
			{{Name: "", Scope: Below, Payload: Payload{List: 0}}, r("abcdefghijklmnopqrstuvwxyz0123456789.example", Subtree, false, 0)},
			{r("abcdefghijklmnopqrstuvwxyz0123456789.example", Subtree, true, 1), r("q.example", Exact, false, 1)},
		}, []string{"anything", "abcdefghijklmnopqrstuvwxyz0123456789.example", "q.example", "z.q.example", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// all: every rule in order; merged: each list's set in order;
			// again: each list's rules rebuilt from its set by RulesAt
			// (what an IXFR overlay does).
			all, merged, again := NewBuilder(), NewBuilder(), NewBuilder()
			for _, list := range tt.lists {
				one := NewBuilder()
				for _, rule := range list {
					if err := all.Add(rule); err != nil {
						t.Fatal(err)
					}
					if err := one.Add(rule); err != nil {
						t.Fatal(err)
					}
				}
				s, err := one.Build()
				if err != nil {
					t.Fatal(err)
				}
				if err := merged.AddSet(s, nil); err != nil {
					t.Fatal(err)
				}
				seen := map[string]bool{}
				for _, rule := range list {
					if !seen[rule.Name] {
						seen[rule.Name] = true
						for _, back := range s.RulesAt(rule.Name) {
							if err := again.Add(back); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
			want := build(t, all)
			for _, g := range []struct {
				how string
				set *Set
			}{{"merged", build(t, merged)}, {"from RulesAt", build(t, again)}} {
				if g.set.Len() != want.Len() {
					t.Errorf("%s: Len %d, one build %d", g.how, g.set.Len(), want.Len())
				}
				for _, q := range tt.query {
					gm, gok := g.set.Match(q)
					wm, wok := want.Match(q)
					if gm != wm || gok != wok {
						t.Errorf("%s %q: %+v/%v, one build %+v/%v", g.how, q, gm, gok, wm, wok)
					}
					for l := range uint16(len(tt.lists)) { // a tenant with one list (MatchView)
						gm, gok := g.set.MatchView(q, NewView(l))
						wm, wok := want.MatchView(q, NewView(l))
						if gm != wm || gok != wok {
							t.Errorf("%s %q view [%d]: %+v/%v, one build %+v/%v", g.how, q, l, gm, gok, wm, wok)
						}
					}
				}
			}
		})
	}
}

// remap rewrites each merged rule's payload, as feeds does when a list's
// place in the config changed since it was compiled.
func TestAddSetRemapsPayloads(t *testing.T) {
	one := NewBuilder()
	_ = one.Add(Rule{Name: "a.example", Payload: Payload{List: 0, Category: 0, Action: ActionNull, Data: 1}})
	_ = one.Add(Rule{Name: "b.example", Allow: true, Payload: Payload{List: 0}})
	s, err := one.Build()
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder()
	if err := b.AddSet(s, func(p Payload) Payload {
		p.List, p.Category = 3, 2
		if p.Data != 0 {
			p.Data += 10
		}
		return p
	}); err != nil {
		t.Fatal(err)
	}
	m2, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		q    string
		want Payload
	}{
		{"x.a.example", Payload{List: 3, Category: 2, Action: ActionNull, Data: 11}},
		{"b.example", Payload{List: 3, Category: 2}},
	} {
		m, ok := m2.Match(tt.q)
		if !ok || m.Payload != tt.want {
			t.Errorf("%s: %+v/%v, want payload %+v", tt.q, m, ok, tt.want)
		}
	}
	// The source set is untouched.
	if m, _ := s.Match("a.example"); m.Payload.List != 0 || m.Payload.Data != 1 {
		t.Errorf("AddSet changed its source: %+v", m)
	}
}

// build is b.Build, failing the test on an error.
func build(t testing.TB, b *Builder) *Set {
	t.Helper()
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RulesAt gives back the rules a set holds at a name itself, none for a
// name with no rule or not in the set.
func TestRulesAt(t *testing.T) {
	b := NewBuilder()
	for _, rule := range []Rule{
		r("a.example", Subtree, false, 0),
		{Name: "b.example", Scope: Exact, Payload: Payload{Action: ActionNull}},
		{Name: "b.example", Scope: Below, Allow: true},
		{Name: "", Scope: Below, Payload: Payload{Action: ActionRefused}},
	} {
		if err := b.Add(rule); err != nil {
			t.Fatal(err)
		}
	}
	s := build(t, b)
	for _, tt := range []struct {
		name string
		want []Rule
	}{
		{"a.example", []Rule{r("a.example", Subtree, false, 0)}},
		{"b.example", []Rule{{Name: "b.example", Scope: Below, Allow: true}, {Name: "b.example", Scope: Exact, Payload: Payload{Action: ActionNull}}}},
		{"", []Rule{{Name: "", Scope: Below, Payload: Payload{Action: ActionRefused}}}},
		{"example", nil},
		{"x.a.example", nil},
		{"nowhere.test", nil},
	} {
		got := s.RulesAt(tt.name)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("RulesAt(%q) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
