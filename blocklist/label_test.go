package blocklist

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// scalarNextLabel is the obvious byte-at-a-time form of nextLabel.
func scalarNextLabel(q string, end int) (start, n int, w packedLabel, ok bool) {
	i := end - 1
	for ; i >= 0 && q[i] != '.'; i-- {
		if c := q[i]; c < 0x20 || c >= 0x7f {
			return 0, 0, w, false
		}
	}
	if i > 0 && refEscaped(q, i) {
		return 0, 0, w, false
	}
	label := q[i+1 : end]
	if len(label) == 0 || len(label) > MaxLabelLen {
		return 0, 0, w, false
	}
	return i + 1, len(label), packLabel(label), true
}

func TestNextLabelMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcxyzABCXYZ0189-_..\\ \x00\x7f\x80\xff@[`{/:"
	cases := []string{"", ".", "a", "com", "a.b", "abcdefgh", "abcdefghi", ".abcdefgh", `a\.b`, `a\\.b`,
		strings.Repeat("x", 63), strings.Repeat("x", 64), "y." + strings.Repeat("x", 63), strings.Repeat("ab", 40)}
	for range 20000 {
		b := make([]byte, rng.IntN(80))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, q := range cases {
		var w packedLabel
		start, n, ok := topLabel(q, &w)
		rs, rn, rw, rok := scalarNextLabel(q, len(q))
		if ok != rok || (ok && (start != rs || n != rn || w != rw)) {
			t.Fatalf("topLabel(%q) = %d,%d,%v %x; scalar %d,%d,%v %x", q, start, n, ok, w, rs, rn, rok, rw)
		}
		for end := 0; end <= len(q); end++ {
			var w packedLabel
			start, n, ok := nextLabel(q, end, &w)
			rs, rn, rw, rok := scalarNextLabel(q, end)
			if ok != rok || (ok && (start != rs || n != rn || w != rw)) {
				t.Fatalf("nextLabel(%q, %d) = %d,%d,%v %x; scalar %d,%d,%v %x", q, end, start, n, ok, w, rs, rn, rok, rw)
			}
		}
	}
}

func TestPackRoundTrip(t *testing.T) {
	for _, l := range []string{"a", "com", "xn--bcher-kva", "_dmarc", strings.Repeat("z9-", 21)} {
		w := packLabel(l)
		if got := string(unpackLabel(&w, len(l))); got != l {
			t.Errorf("unpack(pack(%q)) = %q", l, got)
		}
		if u := packLabel(strings.ToUpper(l)); u != w {
			t.Errorf("packing %q is case-sensitive", l)
		}
	}
}

// TestCodes8MatchesCharCode checks the eight-lane codes8 against the
// scalar charCode, which documents the code, for every byte in every lane
// (the other lanes holding other bytes, so that a carry between lanes
// shows), and its bad mask against the bytes it must flag.
func TestCodes8MatchesCharCode(t *testing.T) {
	for c := 0; c < 256; c++ {
		for lane := 0; lane < 8; lane++ {
			var in [8]byte
			for i := range in {
				in[i] = byte((c + 37*i + 1) % 256)
			}
			in[lane] = byte(c)
			code, bad := codes8(binary.LittleEndian.Uint64(in[:]))
			for i, b := range in {
				got := byte(code >> (8 * i))
				wantBad := b < 0x20 || b == 0x7f || b >= 0x80 || b == '.'
				if gotBad := byte(bad>>(8*i))&0x80 != 0; gotBad != wantBad {
					t.Fatalf("byte %#x in lane %d: bad = %v, want %v", b, i, gotBad, wantBad)
				}
				if !wantBad && got != charCode(b) {
					t.Fatalf("byte %#x in lane %d: code %#x, charCode %#x", b, i, got, charCode(b))
				}
			}
		}
	}
}
