package blocklist

import (
	"fmt"
	"testing"
)

// TestMatchViewSemantics is MatchView's contract: the deciding rule among
// the lists of the view only, as if the other lists were not loaded.
func TestMatchViewSemantics(t *testing.T) {
	rules := []Rule{
		r("evil.example", Subtree, false, 0),     // phishing
		r("evil.example", Subtree, false, 1),     // malware lists it too
		r("cdn.evil.example", Exact, false, 1),   // malware only
		r("good.evil.example", Subtree, true, 3), // tenant A's exception
		r("ads.example", Subtree, false, 2),
		r("ads.example", Exact, true, 4), // tenant B's exception, exact
		r("x.ads.example", Subtree, false, 0),
		r("example", Below, false, 5),
	}
	s := mustBuild(t, rules...)
	ref := newRef()
	for _, rule := range rules {
		if err := ref.add(rule); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		view  View
		query string
		want  want
	}{
		// The merged winner is phishing's rule; a view without phishing
		// gets malware's rule at the same name.
		{NewView(0, 1, 2), "www.evil.example", block(0, Subtree, 4)},
		{NewView(1), "www.evil.example", block(1, Subtree, 4)},
		{NewView(2, 5), "www.evil.example", block(5, Below, 9)},
		{NewView(2, 3), "evil.example", none},
		// An exception applies only to the views that have it.
		{NewView(0, 3), "a.good.evil.example", allow(3, Subtree, 2)},
		{NewView(0), "a.good.evil.example", block(0, Subtree, 7)},
		// Exact beats subtree at one name, within the view.
		{NewView(1), "cdn.evil.example", block(1, Exact, 0)},
		{NewView(0), "cdn.evil.example", block(0, Subtree, 4)},
		{NewView(2, 4), "ads.example", allow(4, Exact, 0)},
		{NewView(2), "ads.example", block(2, Subtree, 0)},
		{NewView(2, 4), "www.ads.example", block(2, Subtree, 4)},
		{NewView(0, 4), "x.ads.example", block(0, Subtree, 0)},
		{NewView(4), "x.ads.example", none},
		{nil, "www.evil.example", none},
		{NewView(5), "", none},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/%s", tc.view, tc.query), func(t *testing.T) {
			m, ok := s.MatchView(tc.query, tc.view)
			rm, rok := ref.only(tc.view).match(tc.query)
			if ok != rok || m != rm {
				t.Fatalf("MatchView = %+v/%v, reference %+v/%v", m, ok, rm, rok)
			}
			if tc.want.list < 0 {
				if ok {
					t.Fatalf("MatchView = %+v, want no match", m)
				}
				return
			}
			if !ok || int(m.Payload.List) != tc.want.list || m.Allow != tc.want.allow || m.Scope != tc.want.scope || m.Offset != tc.want.offset {
				t.Fatalf("MatchView = %+v/%v, want %+v", m, ok, tc.want)
			}
		})
	}
	// The view of every list is Match.
	all := NewView(0, 1, 2, 3, 4, 5)
	for _, q := range []string{"www.evil.example", "a.good.evil.example", "cdn.evil.example", "ads.example", "x.ads.example", "b.example", "none.test"} {
		m1, ok1 := s.Match(q)
		m2, ok2 := s.MatchView(q, all)
		if m1 != m2 || ok1 != ok2 {
			t.Errorf("%s: Match %+v/%v, MatchView(all) %+v/%v", q, m1, ok1, m2, ok2)
		}
	}
	if !s.Views() {
		t.Error("a built set says it cannot serve views")
	}
}

// TestViewsShareTheSet: lists that overlap add a few candidate groups,
// not a copy per node, and single-list sets carry none.
func TestViewsShareTheSet(t *testing.T) {
	names := benchNames(20_000)
	one, two := NewBuilder(), NewBuilder()
	for _, n := range names {
		_ = one.Add(Rule{Name: n})
		_ = two.Add(Rule{Name: n, Payload: Payload{List: 0}})
		_ = two.Add(Rule{Name: n, Payload: Payload{List: 1, Action: ActionSinkhole}})
	}
	s1, _ := one.Build()
	s2, _ := two.Build()
	if s1.alts != nil || s1.altSpans != nil {
		t.Errorf("a single-list set has %d candidates", len(s1.alts))
	}
	if len(s2.altSpans) > 8 || len(s2.alts) > 16 {
		t.Errorf("two fully overlapping lists: %d pairs, %d candidates; want a handful", len(s2.altSpans), len(s2.alts))
	}
	if g := float64(s2.SizeBytes()) / float64(s1.SizeBytes()); g > 1.01 {
		t.Errorf("the overlapping set is %.3fx the single one", g)
	}
	for _, n := range names[:100] {
		if m, ok := s2.MatchView(n, NewView(1)); !ok || m.Payload.List != 1 || m.Payload.Action != ActionSinkhole {
			t.Fatalf("MatchView(%s, {1}) = %+v/%v", n, m, ok)
		}
	}
}

func TestMatchViewDoesNotAllocate(t *testing.T) {
	s := mustBuild(t, r("evil.example", Subtree, false, 0), r("evil.example", Subtree, false, 1))
	v := NewView(1)
	if n := testing.AllocsPerRun(100, func() { s.MatchView("www.evil.example", v) }); n != 0 {
		t.Errorf("MatchView allocates %v times", n)
	}
}
