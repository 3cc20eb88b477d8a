package blocklist

import (
	"bytes"
	"fmt"
	"testing"
)

// TestAddBatchSameAsAdd is addBatch's contract: a Builder, which inserts
// rules a batch at a time, builds the set that inserting them one by one
// builds, ties included (same names in several lists, allow against
// block, exact against subtree), whatever the batch boundaries. It holds
// Finish, whose compile reuses the builder's arrays, to the same bytes,
// and leaves the builder empty.
func TestAddBatchSameAsAdd(t *testing.T) {
	var rules []Rule
	for i := range 200 {
		name := fmt.Sprintf("h%d.d%d.example%d.com", i%7, i%13, i%5)
		rules = append(rules,
			Rule{Name: name, Scope: Scope(i % 3), Allow: i%4 == 0, Payload: Payload{List: uint16(i % 3)}},
			Rule{Name: fmt.Sprintf("d%d.example%d.com", i%13, i%5), Scope: Scope((i + 1) % 3), Payload: Payload{List: uint16(i % 2)}},
		)
	}
	rules = append(rules, Rule{Name: "."}, Rule{Name: "com", Allow: true})
	for _, n := range []int{1, addBatchLen - 1, addBatchLen, addBatchLen + 1, len(rules)} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b, fin := NewBuilder(), NewBuilder()
			ref := newTree()
			for _, r := range rules[:n] {
				if err := b.Add(r); err != nil {
					t.Fatal(err)
				}
				if err := fin.Add(r); err != nil {
					t.Fatal(err)
				}
				name, _ := CanonicalName(r.Name)
				ref.add(name, ruleVal{payload: r.Payload, allow: r.Allow, scope: r.Scope})
			}
			b.opts.seed = 7
			got, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.compile(layoutOpts{smallMax: defaultSmallMax, perBucket: defaultPerBucket, seed: 7}, false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Len() != want.Len() || !bytes.Equal(snapshot(t, got), snapshot(t, want)) {
				t.Errorf("batched build differs: %d rules, one by one %d", got.Len(), want.Len())
			}
			fin.opts.seed = 7
			finished, err := fin.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snapshot(t, finished), snapshot(t, want)) {
				t.Errorf("Finish differs from Build: %d rules, Build %d", finished.Len(), want.Len())
			}
			if fin.Len() != 0 {
				t.Errorf("after Finish, Len() = %d, want 0", fin.Len())
			}
			if again, err := b.Build(); err != nil || !bytes.Equal(snapshot(t, again), snapshot(t, want)) {
				t.Errorf("a second Build differs from the first (err %v)", err)
			}
		})
	}
}

// BenchmarkAdd2M is the builder's insertion alone (no compile), at a size
// whose node index does not fit in cache, as a large feed's does not.
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
		bl.flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(names)), "ns/rule")
}
