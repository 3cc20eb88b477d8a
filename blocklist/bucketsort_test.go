package blocklist

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortBucketKeys checks the compile's in-place bucket sort against
// a plain sort, across the sizes and bucket widths that take its paths:
// insertion-sorted runs, one digit pass, several, and buckets of more
// children than a run (a plain sort of the rest).
func TestSortBucketKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Each case: keys, bits of bucket and of id, and whether all keys are
	// in a handful of buckets.
	tests := map[string]struct {
		n, bucketBits, idBits int
		fewBuckets            bool
	}{
		"empty":           {0, 4, 8, false},
		"a run":           {20, 8, 8, false},
		"one digit":       {5000, 10, 16, false},
		"two digits":      {20000, 17, 20, false},
		"three digits":    {30000, 24, 20, false},
		"crowded buckets": {4000, 12, 16, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bShift := uint(tc.idBits + 8)
			keys := make([]uint64, tc.n)
			for i := range keys { // ids in order, unique, as ks holds them
				b := rng.Uint64N(1 << tc.bucketBits)
				if tc.fewBuckets {
					b = rng.Uint64N(3)
				}
				keys[i] = b<<bShift | uint64(i)<<8 | rng.Uint64N(256)
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			sortBucketKeys(keys, bShift, bShift+uint(tc.bucketBits), make([]uint32, bucketTabLevels<<(bucketDigit+1)))
			if !slices.Equal(keys, want) {
				t.Error("sortBucketKeys's order differs from slices.Sort's")
			}
		})
	}
}
