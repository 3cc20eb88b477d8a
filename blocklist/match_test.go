package blocklist

import (
	"fmt"
	"strings"
	"testing"
)

// r is shorthand for a rule whose payload List identifies it in results.
func r(name string, scope Scope, allow bool, list uint16) Rule {
	return Rule{Name: name, Scope: scope, Allow: allow, Payload: Payload{List: list, Category: list + 100, Action: ActionNXDomain, Data: uint32(list) * 7}}
}

// want is an expected Match; list -1 means no match.
type want struct {
	list   int
	allow  bool
	scope  Scope
	offset int
}

var none = want{list: -1}

func block(list int, scope Scope, off int) want { return want{list, false, scope, off} }
func allow(list int, scope Scope, off int) want { return want{list, true, scope, off} }

func mustBuild(t testing.TB, rules ...Rule) *Set {
	t.Helper()
	b := NewBuilder()
	for _, rule := range rules {
		if err := b.Add(rule); err != nil {
			t.Fatalf("Add(%+v): %v", rule, err)
		}
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantOf is what a want row says of a match: none when nothing matched.
func wantOf(m Match, ok bool) want {
	if !ok {
		return none
	}
	return want{int(m.Payload.List), m.Allow, m.Scope, m.Offset}
}

func checkMatch(t *testing.T, s *Set, q string, w want) {
	t.Helper()
	m, ok := s.Match(q)
	if w.list < 0 {
		if ok {
			t.Errorf("Match(%q) = %+v, want no match", q, m)
		}
		return
	}
	got := wantOf(m, ok)
	if !ok || got != w {
		t.Errorf("Match(%q) = %+v ok=%v, want %+v", q, got, ok, w)
		return
	}
	if p := m.Payload; p.Category != uint16(w.list)+100 || p.Data != uint32(w.list)*7 {
		t.Errorf("Match(%q): payload %+v not the deciding rule's", q, p)
	}
}

func TestMatchSemantics(t *testing.T) {
	tests := []struct {
		name    string
		rules   []Rule
		queries map[string]want
	}{
		{
			name:  "subtree covers the name and below, on label boundaries",
			rules: []Rule{r("example.com", Subtree, false, 1)},
			queries: map[string]want{
				"example.com":       block(1, Subtree, 0),
				"www.example.com":   block(1, Subtree, 4),
				"a.b.example.com":   block(1, Subtree, 4),
				"notexample.com":    none,
				"example.co":        none,
				"com":               none,
				"example.com.evil":  none,
				"":                  none,
				"ample.com":         none,
				"xexample.com":      none,
				"www.example.comx.": none,
			},
		},
		{
			name:  "exact covers only the name",
			rules: []Rule{r("example.com", Exact, false, 1)},
			queries: map[string]want{
				"example.com":     block(1, Exact, 0),
				"www.example.com": none,
				"com":             none,
			},
		},
		{
			name:  "below covers only names strictly below",
			rules: []Rule{r("example.com", Below, false, 1)},
			queries: map[string]want{
				"example.com":     none,
				"a.example.com":   block(1, Below, 2),
				"a.b.example.com": block(1, Below, 4),
			},
		},
		{
			name:  "allow inside block",
			rules: []Rule{r("evil.example", Subtree, false, 1), r("good.evil.example", Subtree, true, 2)},
			queries: map[string]want{
				"good.evil.example":   allow(2, Subtree, 0),
				"x.good.evil.example": allow(2, Subtree, 2),
				"evil.example":        block(1, Subtree, 0),
				"bad.evil.example":    block(1, Subtree, 4),
				"xgood.evil.example":  block(1, Subtree, 6),
			},
		},
		{
			name:  "block inside allow: a broad exception never unblocks",
			rules: []Rule{r("updog.co", Subtree, true, 1), r("binance.updog.co", Subtree, false, 2)},
			queries: map[string]want{
				"binance.updog.co":   block(2, Subtree, 0),
				"x.binance.updog.co": block(2, Subtree, 2),
				"updog.co":           allow(1, Subtree, 0),
				"other.updog.co":     allow(1, Subtree, 6),
			},
		},
		{
			name:    "tie at the same name and scope: allow wins, whatever the order",
			rules:   []Rule{r("a.com", Subtree, false, 1), r("a.com", Subtree, true, 2), r("b.com", Subtree, true, 3), r("b.com", Subtree, false, 4)},
			queries: map[string]want{"a.com": allow(2, Subtree, 0), "x.a.com": allow(2, Subtree, 2), "b.com": allow(3, Subtree, 0), "x.b.com": allow(3, Subtree, 2)},
		},
		{
			name:    "tie between block lists: the first added decides",
			rules:   []Rule{r("a.com", Subtree, false, 1), r("a.com", Subtree, false, 2), r("a.com", Subtree, true, 3), r("a.com", Subtree, true, 4), r("b.com", Exact, false, 5), r("b.com", Exact, false, 6)},
			queries: map[string]want{"a.com": allow(3, Subtree, 0), "b.com": block(5, Exact, 0)},
		},
		{
			name:  "exact beats subtree at the same name, whatever allow or block",
			rules: []Rule{r("a.com", Subtree, true, 1), r("a.com", Exact, false, 2), r("b.com", Exact, true, 3), r("b.com", Subtree, false, 4)},
			queries: map[string]want{
				"a.com":   block(2, Exact, 0),
				"w.a.com": allow(1, Subtree, 2),
				"b.com":   allow(3, Exact, 0),
				"w.b.com": block(4, Subtree, 2),
			},
		},
		{
			name: "subtree and below rank equally below the name",
			rules: []Rule{
				r("a.com", Below, false, 1), r("a.com", Subtree, true, 2),
				r("b.com", Below, true, 3), r("b.com", Subtree, false, 4),
				r("c.com", Below, false, 5), r("c.com", Subtree, false, 6),
				r("d.com", Subtree, false, 7), r("d.com", Below, false, 8),
			},
			queries: map[string]want{
				"a.com": allow(2, Subtree, 0), "x.a.com": allow(2, Subtree, 2),
				"b.com": block(4, Subtree, 0), "x.b.com": allow(3, Below, 2),
				"c.com": block(6, Subtree, 0), "x.c.com": block(5, Below, 2),
				"d.com": block(7, Subtree, 0), "x.d.com": block(7, Subtree, 2),
			},
		},
		{
			name:  "case and trailing dots",
			rules: []Rule{r("Example.COM.", Subtree, false, 1), r("xn--bcher-kva.example", Exact, false, 2), r("_dmarc.a-b.net", Exact, false, 3)},
			queries: map[string]want{
				"EXAMPLE.com":            block(1, Subtree, 0),
				"example.com.":           block(1, Subtree, 0),
				"WWW.Example.Com.":       block(1, Subtree, 4),
				"XN--BCHER-KVA.EXAMPLE.": block(2, Exact, 0),
				"_DMARC.A-B.NET":         block(3, Exact, 0),
				"example.com..":          none,
			},
		},
		{
			name:  "root subtree covers everything, the root included",
			rules: []Rule{r(".", Subtree, false, 1), r("ok.com", Subtree, true, 2)},
			queries: map[string]want{
				"":         block(1, Subtree, 0),
				".":        block(1, Subtree, 0),
				"com":      block(1, Subtree, 3),
				"a.b.c.":   block(1, Subtree, 5),
				"x.ok.com": allow(2, Subtree, 2),
			},
		},
		{
			name:    "root below skips the root; root exact is the root only",
			rules:   []Rule{r("", Below, false, 1), r(".", Exact, true, 2)},
			queries: map[string]want{"": allow(2, Exact, 0), ".": allow(2, Exact, 0), "com": block(1, Below, 3), "a.com.": block(1, Below, 5)},
		},
		{
			name:    "TLD-only rules",
			rules:   []Rule{r("zip", Subtree, false, 1), r("mov", Exact, false, 2), r("top", Below, false, 3)},
			queries: map[string]want{"zip": block(1, Subtree, 0), "foo.zip": block(1, Subtree, 4), "zip.com": none, "mov": block(2, Exact, 0), "a.mov": none, "top": none, "a.top": block(3, Below, 2)},
		},
		{
			name:  "names one label longer or shorter than a rule",
			rules: []Rule{r("a.b.c", Exact, false, 1), r("d.e.f", Subtree, false, 2), r("g.h.i", Below, false, 3)},
			queries: map[string]want{
				"b.c": none, "a.b.c": block(1, Exact, 0), "x.a.b.c": none,
				"e.f": none, "d.e.f": block(2, Subtree, 0), "x.d.e.f": block(2, Subtree, 2),
				"h.i": none, "g.h.i": none, "x.g.h.i": block(3, Below, 2),
			},
		},
		{
			name:  "escapes and junk never match a label and never panic",
			rules: []Rule{r("example.com", Subtree, false, 1), r("com", Below, true, 2)},
			queries: map[string]want{
				`a\.example.com`:                          allow(2, Below, 11),
				`a\\.example.com`:                         block(1, Subtree, 4),
				`\032.example.com.`:                       block(1, Subtree, 5),
				"ex\xc3\xa4mple.com":                      allow(2, Below, 9),
				"example..com":                            allow(2, Below, 9),
				".example.com":                            block(1, Subtree, 1),
				"exa mple.com":                            allow(2, Below, 9),
				`example\.com`:                            none,
				strings.Repeat("a", 64) + ".example.com":  block(1, Subtree, 65),
				strings.Repeat("a.", 200) + "example.com": block(1, Subtree, 400),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustBuild(t, tc.rules...)
			ref := newRef()
			for _, rule := range tc.rules {
				if err := ref.add(rule); err != nil {
					t.Fatal(err)
				}
			}
			for q, w := range tc.queries {
				checkMatch(t, s, q, w)
				// The reference must agree with the table, or the fuzz
				// target would check against the wrong semantics.
				rm, rok := ref.match(q)
				if m, ok := s.Match(q); ok != rok || m != rm {
					t.Errorf("reference disagrees on %q: trie %+v/%v, reference %+v/%v", q, m, ok, rm, rok)
				}
			}
		})
	}
}

func TestWalkMostSpecificFirst(t *testing.T) {
	s := mustBuild(t,
		r("com", Subtree, false, 1),
		r("example.com", Subtree, true, 2),
		r("www.example.com", Exact, false, 3),
		r("www.example.com", Below, false, 4),
		r(".", Below, true, 5),
	)
	tests := []struct {
		q    string
		want []want
	}{
		{"www.example.com", []want{block(3, Exact, 0), allow(2, Subtree, 4), block(1, Subtree, 12), allow(5, Below, 15)}},
		{"A.www.example.com.", []want{block(4, Below, 2), allow(2, Subtree, 6), block(1, Subtree, 14), allow(5, Below, 17)}},
		{"example.com", []want{allow(2, Subtree, 0), block(1, Subtree, 8), allow(5, Below, 11)}},
		{"org", []want{allow(5, Below, 3)}},
		{"", nil},
	}
	for _, tc := range tests {
		var got []want
		s.Walk(tc.q, func(m Match) { got = append(got, want{int(m.Payload.List), m.Allow, m.Scope, m.Offset}) })
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Walk(%q) = %v, want %v", tc.q, got, tc.want)
		}
		if m, ok := s.Match(tc.q); len(tc.want) > 0 && (!ok || int(m.Payload.List) != tc.want[0].list) {
			t.Errorf("Match(%q) = %+v, want Walk's first %+v", tc.q, m, tc.want[0])
		}
	}
}

func TestLenCountsDistinctStoredRules(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		want  int
	}{
		{"empty", nil, 0},
		{"duplicate", []Rule{r("a.com", Subtree, false, 1), r("A.com.", Subtree, false, 1)}, 1},
		{"shadowed by allow", []Rule{r("a.com", Subtree, false, 1), r("a.com", Subtree, true, 2)}, 1},
		{"exact and below side by side", []Rule{r("a.com", Exact, false, 1), r("a.com", Below, false, 1)}, 2},
		{"exact splits a subtree", []Rule{r("a.com", Subtree, true, 1), r("a.com", Exact, false, 2)}, 2},
		{"different names", []Rule{r("a.com", Subtree, false, 1), r("b.a.com", Subtree, false, 1), r("", Subtree, false, 1)}, 3},
	}
	for _, tc := range tests {
		s := mustBuild(t, tc.rules...)
		if s.Len() != tc.want {
			t.Errorf("%s: Len() = %d, want %d", tc.name, s.Len(), tc.want)
		}
	}
}

func TestNilAndEmptySet(t *testing.T) {
	var nilSet *Set
	for _, s := range []*Set{nilSet, mustBuild(t)} {
		for _, q := range []string{"", ".", "example.com"} {
			if m, ok := s.Match(q); ok {
				t.Errorf("Match(%q) on an empty set = %+v", q, m)
			}
			s.Walk(q, func(m Match) { t.Errorf("Walk(%q) on an empty set called back with %+v", q, m) })
		}
		if s.Len() != 0 {
			t.Errorf("Len() = %d", s.Len())
		}
	}
	if nilSet.SizeBytes() != 0 {
		t.Error("nil set has a size")
	}
}

func TestRuleNameFromOffset(t *testing.T) {
	s := mustBuild(t, r("example.com", Below, false, 1), r(".", Subtree, true, 2))
	tests := []struct{ q, name, text string }{
		{"WWW.Example.COM.", "example.com", "*.example.com"},
		{"other.org.", ".", "."},
	}
	for _, tc := range tests {
		m, ok := s.Match(tc.q)
		if !ok || m.RuleName(tc.q) != tc.name || m.RuleText(tc.q) != tc.text {
			t.Errorf("Match(%q): rule %q / %q (ok=%v), want %q / %q", tc.q, m.RuleName(tc.q), m.RuleText(tc.q), ok, tc.name, tc.text)
		}
	}
}

// TestManyChildren pushes enough siblings through one node that its block
// is bucketed, and checks every one of them and their near misses.
func TestManyChildren(t *testing.T) {
	b := NewBuilder()
	const n = 5000
	for i := range n {
		if err := b.Add(r(fmt.Sprintf("n%d.com", i), Subtree, i%3 == 0, uint16(i%1000))); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != n {
		t.Fatalf("Len() = %d, want %d", s.Len(), n)
	}
	for i := range n {
		checkMatch(t, s, fmt.Sprintf("www.N%d.com.", i), want{i % 1000, i%3 == 0, Subtree, 4})
		checkMatch(t, s, fmt.Sprintf("n%dx.com", i), none)
	}
}
