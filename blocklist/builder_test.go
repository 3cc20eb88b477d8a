package blocklist

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestBuilderRejectsInvalidNames(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		wantErr string
	}{
		{"empty label", Rule{Name: "a..com"}, "empty label"},
		{"leading dot", Rule{Name: ".com"}, "empty label"},
		{"label too long", Rule{Name: strings.Repeat("a", 64) + ".com"}, "64 bytes long, the maximum is 63"},
		{"name too long", Rule{Name: strings.Repeat("abcdefghi.", 26) + "com"}, "the maximum is 253"},
		{"space", Rule{Name: "a b.com"}, "invalid character"},
		{"wildcard", Rule{Name: "*.example.com"}, "invalid character"},
		{"U-label", Rule{Name: "bücher.example"}, "A-labels"},
		{"leading hyphen", Rule{Name: "-a.com"}, "hyphen"},
		{"unknown scope", Rule{Name: "a.com", Scope: 7}, "unknown scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder()
			err := b.Add(tc.rule)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Add(%q) error = %v, want one containing %q", tc.rule.Name, err, tc.wantErr)
			}
			if b.Len() != 0 {
				t.Errorf("rejected rule counted: Len() = %d", b.Len())
			}
		})
	}
}

func TestBuilderAcceptsEdgeNames(t *testing.T) {
	max63 := strings.Repeat("a", 63)
	// 253 bytes: 63+1+63+1+63+1+61.
	max253 := max63 + "." + max63 + "." + max63 + "." + strings.Repeat("b", 61)
	names := []string{"", ".", "com", "COM.", "xn--bcher-kva.example", "_dmarc.example.com", "a-b.c_d.e", max63 + ".com", max253, max253 + "."}
	b := NewBuilder()
	for _, n := range names {
		if err := b.Add(Rule{Name: n, Scope: Exact}); err != nil {
			t.Errorf("Add(%q): %v", n, err)
		}
	}
	s := build(t, b)
	for _, n := range names {
		if m, ok := s.Match(n); !ok || m.Offset != 0 || m.Scope != Exact {
			t.Errorf("Match(%q) = %+v, %v", n, m, ok)
		}
	}
	if b.Len() != len(names) {
		t.Errorf("Builder.Len() = %d, want %d", b.Len(), len(names))
	}
}

func TestBuilderReuse(t *testing.T) {
	b := NewBuilder()
	if err := b.Add(r("a.com", Subtree, false, 1)); err != nil {
		t.Fatal(err)
	}
	s1 := build(t, b)
	if err := b.Add(r("b.com", Subtree, false, 2)); err != nil {
		t.Fatal(err)
	}
	s2 := build(t, b)
	if _, ok := s1.Match("b.com"); ok {
		t.Error("a set changed after a later Add")
	}
	if m, ok := s2.Match("x.a.com"); !ok || m.Payload.List != 1 {
		t.Errorf("second build lost the first rule: %+v %v", m, ok)
	}
	if _, ok := s2.Match("b.com"); !ok {
		t.Error("second build misses the added rule")
	}
}

// A builder used after Build (whose compile drops the node index) finds
// its existing nodes again, through any number of later adds: an earlier
// rule still wins its ties, and the set is what one build of all gives.
func TestBuilderReuseAfterIndexDrop(t *testing.T) {
	rules := testRules(3000)
	once, twice := NewBuilder(), NewBuilder()
	for i, rule := range rules {
		for _, b := range []*Builder{once, twice} {
			if err := b.Add(rule); err != nil {
				t.Fatal(err)
			}
		}
		if i == 100 || i == 1500 {
			build(t, twice)
		}
	}
	a := build(t, once)
	b := build(t, twice)
	if a.Len() != b.Len() || a.SizeBytes() != b.SizeBytes() {
		t.Errorf("rebuilt after reuse: %d rules %d bytes, one build %d rules %d bytes", b.Len(), b.SizeBytes(), a.Len(), a.SizeBytes())
	}
	for _, rule := range rules {
		for _, q := range []string{rule.Name, "x." + rule.Name} {
			am, aok := a.Match(q)
			bm, bok := b.Match(q)
			if am != bm || aok != bok {
				t.Fatalf("%s: reused %+v %v, one build %+v %v", q, bm, bok, am, aok)
			}
		}
	}
}

// TestGrowChangesNothing checks that reserving room is only a hint.
func TestGrowChangesNothing(t *testing.T) {
	rules := testRules(500)
	plain, grown := NewBuilder(), NewBuilder()
	grown.Grow(10)
	for i, rule := range rules {
		if i == 250 {
			grown.Grow(1000)
		}
		if err := plain.Add(rule); err != nil {
			t.Fatal(err)
		}
		if err := grown.Add(rule); err != nil {
			t.Fatal(err)
		}
	}
	plain.opts.seed, grown.opts.seed = 7, 7
	a := build(t, plain)
	b := build(t, grown)
	if !bytes.Equal(snapshot(t, a), snapshot(t, b)) {
		t.Error("Grow changed the built set")
	}
}

// TestCompileLayouts builds sets across the compile's size regimes: pair
// indexes in a byte (at most 256 pairs, with the empty one) or in 4 bytes,
// and labels of every length (one word, two words, longer), whose offsets
// the builder keeps one per 16 nodes. Every rule must match as added.
func TestCompileLayouts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		payloads int // distinct payloads, so about as many pairs
	}{
		{"one pair", 1},
		{"255 payloads: byte pair indexes", 255},
		{"256 payloads: 4-byte pair indexes", 256},
		{"1000 payloads", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder()
			var names []string
			var want []Payload
			for i := range 3000 {
				label := strings.Repeat(string(rune('a'+i%26)), i%63+1)
				name := fmt.Sprintf("%s.n%d.example%d.test", label, i, i%7)
				p := Payload{List: 1, Data: uint32(i%tc.payloads + 1)}
				if err := b.Add(Rule{Name: name, Payload: p}); err != nil {
					t.Fatal(err)
				}
				names, want = append(names, name), append(want, p)
			}
			b.opts.seed = 7
			built := build(t, b) // on copies of the builder's arrays
			finished, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snapshot(t, built), snapshot(t, finished)) {
				t.Error("Build and Finish laid out different sets")
			}
			for i, name := range names {
				m, ok := finished.Match(name)
				if !ok || m.Payload != want[i] {
					t.Fatalf("%s: got %+v %v, want payload %+v", name, m, ok, want[i])
				}
			}
		})
	}
}

// A block with more buckets than one pass of sortByBucket's radix sort
// sorts (2^bucketDigit) takes several passes; every child must still be
// found through its bucket and fingerprint, its siblings left unlisted
// not, and the same seed must lay out the same bytes.
func TestBucketedBlockRadixPasses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		kids      int
		perBucket int
	}{
		{"one pass", 4000, defaultPerBucket},
		{"two passes", 20000, defaultPerBucket},
		{"two passes, a bucket a child", 30000, 10},
		{"three passes", 1 << 19, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var snaps [][]byte
			for range 2 {
				b := NewBuilder()
				b.opts = layoutOpts{perBucket: tc.perBucket, seed: 99}
				for i := range tc.kids {
					if err := b.Add(Rule{Name: fmt.Sprintf("k%d.big.test", 2*i), Payload: Payload{List: 1, Data: uint32(i%3 + 1)}}); err != nil {
						t.Fatal(err)
					}
				}
				s, err := b.Finish()
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < tc.kids; i += max(1, tc.kids/40000) {
					m, ok := s.Match(fmt.Sprintf("www.k%d.big.test", 2*i))
					if !ok || m.Payload.Data != uint32(i%3+1) {
						t.Fatalf("k%d: got %+v %v", 2*i, m, ok)
					}
					if m, ok := s.Match(fmt.Sprintf("k%d.big.test", 2*i+1)); ok {
						t.Fatalf("k%d is not listed, matched %+v", 2*i+1, m)
					}
				}
				snaps = append(snaps, snapshot(t, s))
			}
			if !bytes.Equal(snaps[0], snaps[1]) {
				t.Error("the same rules and seed laid out different bytes")
			}
		})
	}
}

// TestKeyLabelEnd holds keyLabelEnd's word-at-a-time scan to a byte
// loop, for labels ending before, at and past word boundaries, at the
// key's end, and with an earlier key's bytes (zero or not) past it.
func TestKeyLabelEnd(t *testing.T) {
	naive := func(key []byte, s, n int) int {
		for s < n && key[s] != 0 {
			s++
		}
		return s
	}
	for _, tc := range []struct {
		name string
		key  []byte
		n    int
	}{
		{"separators", []byte("ab\x00cdefghijk\x00l\x00\x00mnopqrstuvwxyz"), 28},
		{"stale zero past n", []byte("abcdefghij\x00klm"), 7},
		{"stale bytes past n", []byte("abcdefghijklmnopqrstuvwxyz"), 13},
		{"short", []byte("ab\x00c"), 4},
		{"empty", []byte{}, 0},
		{"all zero", make([]byte, 20), 20},
		{"high bytes", []byte("\x80\x81\xff\x01\x00\x01\xfe\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"), 18},
	} {
		for s := 0; s <= tc.n; s++ {
			if got, want := keyLabelEnd(tc.key, s, tc.n), naive(tc.key, s, tc.n); got != want {
				t.Errorf("%s: keyLabelEnd(%q, %d, %d) = %d, want %d", tc.name, tc.key, s, tc.n, got, want)
			}
		}
	}
}
