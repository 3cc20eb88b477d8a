package blocklist

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// tieRules is a list full of ties: the same names in several lists, allow
// against block, exact against subtree, names that are prefixes of their
// siblings' labels (a, ab), and the root.
func tieRules() []Rule {
	var rules []Rule
	for i := range 200 {
		name := fmt.Sprintf("h%d.d%d.example%d.com", i%7, i%13, i%5)
		rules = append(rules,
			Rule{Name: name, Scope: Scope(i % 3), Allow: i%4 == 0, Payload: Payload{List: uint16(i % 3)}},
			Rule{Name: fmt.Sprintf("d%d.example%d.com", i%13, i%5), Scope: Scope((i + 1) % 3), Payload: Payload{List: uint16(i % 2)}},
			Rule{Name: fmt.Sprintf("%sz.x%d.com", "abcdefghijklmnopqrstuvwxyz0123456789-_"[:i%38], i%3), Allow: i%5 == 0, Payload: Payload{List: uint16(i % 4), Data: uint32(i % 9)}},
		)
	}
	return append(rules, Rule{Name: "."}, Rule{Name: "com", Allow: true}, Rule{Name: "a.com", Scope: Exact})
}

// TestBuildTiesInAddOrder is the sort-first build's contract: the buffer
// is sorted in place by Build, so a builder that is built, added to and
// built again builds the set one build of the same rules builds, ties
// included, whatever the split points; Finish lays out the same bytes and
// leaves the builder empty; and every name matches as the naive
// reference says.
func TestBuildTiesInAddOrder(t *testing.T) {
	rules := tieRules()
	for _, split := range [][]int{nil, {1}, {100}, {1, 2, 3}, {len(rules) / 3, len(rules) / 2}, {len(rules) - 1}} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			once, parts, fin := NewBuilder(), NewBuilder(), NewBuilder()
			ref := newRef()
			for i, r := range rules {
				for _, b := range []*Builder{once, parts, fin} {
					if err := b.Add(r); err != nil {
						t.Fatal(err)
					}
				}
				if err := ref.add(r); err != nil {
					t.Fatal(err)
				}
				for _, s := range split {
					if i+1 == s {
						if _, err := parts.Build(); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			once.opts.seed, parts.opts.seed, fin.opts.seed = 7, 7, 7
			want := build(t, once)
			if got := build(t, parts); got.Len() != want.Len() || !bytes.Equal(snapshot(t, got), snapshot(t, want)) {
				t.Errorf("built in parts (%d rules) differs from one build (%d)", got.Len(), want.Len())
			}
			finished, err := fin.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snapshot(t, finished), snapshot(t, want)) {
				t.Error("Finish differs from Build")
			}
			if fin.Len() != 0 || len(fin.ents) != 0 || len(fin.tails) != 0 {
				t.Errorf("after Finish: Len %d, %d entries, %d tail bytes; want none", fin.Len(), len(fin.ents), len(fin.tails))
			}
			for _, r := range rules {
				for _, q := range []string{r.Name, "x." + r.Name, "x.y." + r.Name} {
					gm, gok := want.Match(q)
					rm, rok := ref.match(q)
					if gm != rm || gok != rok {
						t.Fatalf("Match(%q) = %+v %v, reference %+v %v", q, gm, gok, rm, rok)
					}
				}
			}
		})
	}
}

// TestKeyOrder holds the key and its packed prefix to the order the
// trie's pass needs: a name right before the names below it, those before
// its next sibling, whatever bytes the labels hold.
func TestKeyOrder(t *testing.T) {
	// Each name's key must sort before the next one's.
	ordered := []string{
		"", "com", "-.com", "0.com", "9.com", "_.com", "a.com", "b.a.com", "ab.com",
		"abcdefghijklmnop.com", "a.abcdefghijklmnop.com", "abcdefghijklmnopq.com",
		"x.abcdefghijklmnopq.com", "y.abcdefghijklmnopq.com",
		"zzzzzzzzzzzzzzzzzzzzzzzz.com", "com-", "a.comx",
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		ka, kb := appendKey(nil, a), appendKey(nil, b)
		if bytes.Compare(ka, kb) >= 0 {
			t.Errorf("key(%q) = %q is not before key(%q) = %q", a, ka, b, kb)
		}
		a0, a1 := packKey(ka)
		b0, b1 := packKey(kb)
		if a0 > b0 || a0 == b0 && a1 > b1 {
			t.Errorf("packed key of %q (%x %x) is after that of %q (%x %x)", a, a0, a1, b, b0, b1)
		}
		if got := unpackKey(nil, a0, a1); !bytes.HasPrefix(ka, got) || len(got) != min(len(ka), inlineSyms) {
			t.Errorf("unpackKey(packKey(%q)) = %q", ka, got)
		}
	}
}

// BenchmarkAdd2M is the builder's work before the compile, at a size whose
// buffers do not fit in cache, as a large feed's do not: Add, the sort and
// the trie's pass (what inserting into the node index did before).
func BenchmarkAdd2M(b *testing.B) {
	names := benchNames(2_000_000)
	b.ReportAllocs()
	for b.Loop() {
		bl := NewBuilder()
		bl.Grow(len(names))
		for _, nm := range names {
			if err := bl.Add(Rule{Name: nm}); err != nil {
				b.Fatal(err)
			}
		}
		bl.sort()
		bl.tree(nil, false, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(names)), "ns/rule")
}

// BenchmarkAddSort1M splits the builder's work before the trie's pass
// into Add (the keys and the buffer, add-ns/rule) and the radix sort
// (sort-ns/rule), on names in random order as a list gives them; the
// trie's pass and the compile are not run. Each is the best of the
// iterations: on a shared machine the other jobs only ever add.
func BenchmarkAddSort1M(b *testing.B) {
	names := benchNames(1_000_000)
	rules := make([]Rule, len(names))
	for i, nm := range names {
		n, err := Canonical(nm)
		if err != nil {
			b.Fatal(err)
		}
		rules[i] = Rule{Name: n.String(), Canon: n, Payload: Payload{List: 1}}
	}
	add, sort := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for b.Loop() {
		bl := NewBuilder()
		bl.Grow(len(rules))
		t0 := time.Now()
		for _, r := range rules {
			if err := bl.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		bl.sort()
		add, sort = min(add, t1.Sub(t0)), min(sort, time.Since(t1))
	}
	per := float64(len(rules))
	b.ReportMetric(float64(add.Nanoseconds())/per, "add-ns/rule")
	b.ReportMetric(float64(sort.Nanoseconds())/per, "sort-ns/rule")
}

// TestRadixSortOrder holds the radix sort to the comparison order on a
// buffer large enough for every level of it: duplicates (ties in Add
// order), long keys that differ only in their tails, shared prefixes.
func TestRadixSortOrder(t *testing.T) {
	b := NewBuilder()
	for i := range 20000 {
		var name string
		switch i % 4 {
		case 0:
			name = fmt.Sprintf("n%d.com", i%3001)
		case 1:
			name = fmt.Sprintf("x%d.abcdefghijklmnopqrstuvwxyz.net", i%501)
		case 2:
			name = fmt.Sprintf("%c%d.example.org", 'a'+i%26, i%97)
		default:
			name = fmt.Sprintf("t%d", i%7)
		}
		if err := b.Add(Rule{Name: name, Payload: Payload{Data: uint32(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(b.ents)
	slices.SortFunc(want, func(x, y ruleEntry) int { return compareEntries(b.tails, x, y) })
	b.sort()
	if !slices.Equal(b.ents, want) {
		t.Fatal("radix sort order differs from the comparison order")
	}
	for i := 1; i < len(b.ents); i++ {
		if x, y := b.entryKey(nil, b.ents[i-1]), b.entryKey(nil, b.ents[i]); bytes.Compare(x, y) > 0 {
			t.Fatalf("entry %d: key %q after %q", i, y, x)
		}
	}
}

// TestPackKeyLabel holds packKeyLabel, which the trie's pass packs labels
// with out of the key buffer, to packLabel, for labels of every length
// with any bytes before them (those it loads and masks off).
func TestPackKeyLabel(t *testing.T) {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_"
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		before byte // what fills the buffer before the label
	}{
		{"zero before", 0},
		{"label bytes before", 'z'},
		{"high bytes before", 0xff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n := 1; n <= MaxLabelLen; n++ {
				for s := 8; s < 16; s++ {
					buf := bytes.Repeat([]byte{tc.before}, s+n+8)
					for i := range n {
						buf[s+i] = chars[rng.IntN(len(chars))]
					}
					label := string(buf[s : s+n])
					if got, want := packKeyLabel(buf, s, s+n), packLabel(label); got != want {
						t.Fatalf("packKeyLabel(%q at %d) = %x, packLabel %x", label, s, got, want)
					}
				}
			}
		})
	}
}

// TestTreeSharedPrefixes holds the trie's pass, which takes what a name
// shares with the one before it from the entries' words and tails, to
// the reference on names whose keys part around the 20 bytes an entry
// holds inline: a shared prefix ending inside a label, at a label's end,
// at the inline bytes' end and inside the tails, a label that is a
// prefix of its sibling's, duplicates and the root, in every Add order.
func TestTreeSharedPrefixes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"short", []string{"com", "a.com", "ab.com", "abc.com", "b.ab.com", "ab.com", "net"}},
		{"inline boundary", []string{
			"bcdefghijklmnop.com", "abcdefghijklmnop.com", "x.abcdefghijklmnop.com",
			"xy.abcdefghijklmnop.com", "abcdefghijklmno.com", "abcdefghijklmnopq.com",
		}},
		{"tails", []string{
			"aaaa.abcdefghijklmnopqrstuvwxyz.com", "aaab.abcdefghijklmnopqrstuvwxyz.com",
			"aaa.abcdefghijklmnopqrstuvwxyz.com", "abcdefghijklmnopqrstuvwxyz.com",
			"b.aaaa.abcdefghijklmnopqrstuvwxyz.com", "abcdefghijklmnopqrstuvwxy.com",
			"abcdefghijklmnopqrstuvwxyz.co", "aaaa.abcdefghijklmnopqrstuvwxyz.com",
		}},
		{"word bounds", []string{
			"abcdef.com", "abcdefg.com", "x.abcdef.com", "y.abcdefg.com", "_a.x-1.abcdefghi.com",
			"a-b.abcdefghijklmnop.com", "a_b.abcdefghijklmnop.com", "abcdefghijklmnopqrst", "abcdefghijklmnopqrs",
			"z.abcdefghijklmnopqrst", "zz.abcdefghijklmnopqrs", "0.abcdefghijklmnopqr", "9-9.abcdefghij",
		}},
		{"root and deep", []string{".", "com", "a.b.c.d.e.f.g.h.i.j.k.com", "a.b.c.d.e.f.g.h.i.j.com", "k.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			for range 8 {
				names := slices.Clone(tc.names)
				rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
				b, ref := NewBuilder(), newRef()
				for i, nm := range names {
					r := Rule{Name: nm, Payload: Payload{List: uint16(i)}, Scope: Scope(i % 3)}
					if err := errors.Join(b.Add(r), ref.add(r)); err != nil {
						t.Fatal(err)
					}
				}
				s := build(t, b)
				for _, nm := range append(names, "zz.com", "a.ab.com", "aaaa.com", "c.d.e.f.g.h.i.j.k.com") {
					for _, q := range []string{nm, "x." + nm} {
						m, ok := s.Match(q)
						rm, rok := ref.match(q)
						if ok != rok || m != rm {
							t.Fatalf("order %q: Match(%q) = %+v/%v, reference %+v/%v", names, q, m, ok, rm, rok)
						}
					}
				}
			}
		})
	}
}
