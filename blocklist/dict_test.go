package blocklist

import "testing"

// TestCandLabels holds dictionary's candidate table to a map: every label
// gets the number of its first use and the count of its uses, whatever
// the hashes, including labels that share a hash or a probe chain, and
// across the table's growth.
func TestCandLabels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels int
		hash   func(i int) uint64
	}{
		{"distinct hashes", 5000, func(i int) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 }},
		{"one hash", 300, func(int) uint64 { return 42 }},
		{"same probe start", 3000, func(i int) uint64 { return uint64(i) }}, // h>>32 is 0 for all
		{"few hashes", 3000, func(i int) uint64 { return uint64(i%7) << 32 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cl candLabels
			num := map[dictKey]uint32{}
			count := map[dictKey]int{}
			for round := range 3 {
				for i := range tc.labels {
					if (i+round)%3 == 0 && round > 0 {
						continue
					}
					k := dictKey{n: uint32(1 + i%21), w0: uint64(i), w1: uint64(i / 7)}
					got := cl.add(k, tc.hash(i))
					want, ok := num[k]
					if !ok {
						want = uint32(len(num))
						num[k] = want
					}
					count[k]++
					if got != want {
						t.Fatalf("add(%+v) = %d, want %d", k, got, want)
					}
				}
			}
			if len(cl.labels) != len(num) {
				t.Fatalf("%d labels, want %d", len(cl.labels), len(num))
			}
			for k, i := range num {
				if cl.labels[i] != k || cl.count[i] != count[k] {
					t.Fatalf("label %d: %+v x%d, want %+v x%d", i, cl.labels[i], cl.count[i], k, count[k])
				}
			}
		})
	}
}
