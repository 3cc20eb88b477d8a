package blocklist

import (
	"encoding/binary"
	"math/bits"
)

// Labels are stored packed: every byte of [a-z0-9_-] becomes a 6-bit code,
// and a label's codes are laid out from its LAST byte to its first (code j,
// counted from the right, at bits 6j..6j+5 of a little-endian bit string).
// Packing saves a quarter of the label bytes and folds case for free; the
// reversed order fits Match, which finds a query's labels right to left,
// and makes a label of up to ten bytes one word that compares and hashes
// in a single operation.

// maxWords is the number of 64-bit words a packed 63-byte label needs.
const maxWords = (MaxLabelLen*6 + 63) / 64

// packedLabel is one label in packed form; unused words are zero so that
// whole-array comparison is label equality.
type packedLabel [maxWords]uint64

// A label byte's code is its low six bits after folding case, with bit 4
// and 5 flipped for bytes below '@' so that digits and '-' do not collide
// with letters:
//
//	'0'-'9' -> 0x00-0x09, '-' -> 0x1d, 'a'-'z' and 'A'-'Z' -> 0x21-0x3a, '_' -> 0x3f
//
// It is a handful of instructions for eight bytes at once (codes8). Other
// printable bytes map to codes no label byte has, so a query label holding
// them can never equal a stored one; the bytes that would collide (control
// bytes, DEL and bytes >= 0x80) are rejected outright.
func charCode(c byte) byte {
	code := (c | 0x20) & 0x3f
	if c&0x40 == 0 {
		code ^= 0x30
	}
	return code
}

// isLabelByte reports whether c may appear in a canonical label.
func isLabelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// codeChars is the inverse of charCode on canonical label bytes.
const codeChars = "0123456789???????????????????-??" + "?abcdefghijklmnopqrstuvwxyz????_"

// validCode reports whether code is the code of a label byte.
func validCode(code uint64) bool { return code < 64 && codeChars[code] != '?' }

// packedBytes is the number of bytes a packed label of n characters takes.
func packedBytes(n int) int { return (6*n + 7) >> 3 }

// packLabel packs a canonical label (the builder's side), eight bytes a
// step like nextLabel.
func packLabel(label string) (w packedLabel) {
	var b bitPacker
	for e := len(label); e > 0; e -= 8 {
		code, _ := codes8(loadEnd(label, e))
		k := min(e, 8)
		b.put(&w, pack8(bits.ReverseBytes64(code)&lowBytes(k)), uint(6*k))
	}
	b.flush(&w)
	return w
}

// bitPacker appends runs of 6-bit codes to a packedLabel, low bits
// first, spilling into the next word as one fills (packLabel, longLabel).
type bitPacker struct {
	acc uint64
	sh  uint
	wi  int
}

// put appends the nb low bits of r; false where the label has no room.
func (b *bitPacker) put(w *packedLabel, r uint64, nb uint) bool {
	b.acc |= r << (b.sh & 63)
	if b.sh+nb < 64 {
		b.sh += nb
		return true
	}
	if b.wi >= len(w) {
		return false
	}
	w[b.wi] = b.acc
	b.wi++
	b.acc = r >> ((64 - b.sh) & 63)
	b.sh += nb - 64
	return true
}

// flush stores the partly filled last word; false where there is no room.
func (b *bitPacker) flush(w *packedLabel) bool {
	if b.sh == 0 {
		return true
	}
	if b.wi >= len(w) {
		return false
	}
	w[b.wi] = b.acc
	return true
}

// appendPacked appends the stored form of a packed label of n characters.
func appendPacked(dst []byte, w *packedLabel, n int) []byte {
	nb := packedBytes(n)
	var tmp [8 * maxWords]byte
	for i := range w {
		binary.LittleEndian.PutUint64(tmp[8*i:], w[i])
	}
	return append(dst, tmp[:nb]...)
}

// eqPacked reports whether the stored label of n characters at b[off:]
// equals w. b must have at least 8 readable bytes past the label's last
// byte (Set.nodes is padded for this).
func eqPacked(b []byte, off, n int, w *packedLabel) bool {
	bits := 6 * n
	for i := 0; bits > 0; i++ {
		v := binary.LittleEndian.Uint64(b[off+8*i:])
		if bits < 64 {
			v &= 1<<uint(bits) - 1
		}
		if v != w[i] {
			return false
		}
		bits -= 64
	}
	return true
}

// hashLabel mixes a packed label with the set's seed. It is one multiply
// for labels of up to ten bytes, since it sits on the critical path of
// every second-level lookup; callers use its high bits (bucketOf and
// fingerprint).
func hashLabel(w *packedLabel, n int, seed uint64) uint64 {
	h := (w[0] ^ seed ^ uint64(n)<<60) * 0x9e3779b97f4a7c15
	if n > topMaxLen {
		for i := 1; i < (6*n+63)>>6; i++ {
			h = (h ^ w[i]) * 0xbf58476d1ce4e5b9
		}
	}
	return h ^ h>>32
}

// bucketOf maps a label hash onto one of nb buckets without a division.
func bucketOf(h uint64, nb uint32) uint32 {
	return uint32((h & 0xffffffff) * uint64(nb) >> 32)
}

// nextLabel scans q leftwards from end (exclusive) for the label that ends
// there, packing it as it goes. It returns the label's start and length, or
// ok=false if no stored label can equal it: empty, longer than 63 bytes,
// holding a control byte, DEL or a byte >= 0x80, or an escaped dot
// (miekg/dns "\.") inside it. Other bytes outside [A-Za-z0-9_-] pack to
// codes no stored label has. It works on eight bytes at a time (SWAR),
// which matters: every query goes through it once per label.
func nextLabel(q string, end int, w *packedLabel) (start, n int, ok bool) {
	if len(q) < 8 {
		return nextLabelLoop(q, end, w)
	}
	// Labels of up to 16 bytes, nearly all of them, take this path with no
	// branch that depends on their length: such branches are mispredicted
	// half the time, and a miss costs as much as the work saved.
	codeLo, badLo := codes8(loadBefore(q, end))
	codeHi, badHi := codes8(loadBefore(q, end-8))
	k := 8 + bits.LeadingZeros64(badHi)>>3 // codes at the right end
	if badLo != 0 {
		k = bits.LeadingZeros64(badLo) >> 3
	}
	if k >= 16 {
		return nextLabelLoop(q, end, w)
	}
	kLo := min(k, 8)
	r0 := pack8(bits.ReverseBytes64(codeLo) & lowBytes(kLo))
	r1 := pack8(bits.ReverseBytes64(codeHi) & lowBytes(k-kLo))
	w[0] = r0 | r1<<48
	w[1] = r1 >> 16
	i := end - 1 - k // the byte that ends the label, or -1
	if !splitsAt(q, i) {
		return 0, 0, false
	}
	return i + 1, k, k > 0
}

// topLabel is nextLabel for the last label of q, the TLD: nearly always
// shorter than eight bytes, so one chunk decides it without mispredicts.
func topLabel(q string, w *packedLabel) (start, n int, ok bool) {
	if len(q) < 8 {
		return nextLabelLoop(q, len(q), w)
	}
	code, bad := codes8(load8(q[len(q)-8:]))
	if bad == 0 {
		return nextLabel(q, len(q), w)
	}
	k := bits.LeadingZeros64(bad) >> 3
	w[0] = pack8(bits.ReverseBytes64(code) & lowBytes(k))
	i := len(q) - 1 - k
	if !splitsAt(q, i) {
		return 0, 0, false
	}
	return i + 1, k, k > 0
}

// loadBefore returns the eight bytes of q that end at e (len(q) >= 8) as
// loadEnd does, without branches.
func loadBefore(q string, e int) uint64 {
	p := e - 8
	var sh uint
	if p < 0 {
		sh, p = uint(-p)*8, 0
	}
	return load8(q[p:p+8]) << sh
}

// lowBytes is a mask of the low k bytes, 0 <= k <= 8.
func lowBytes(k int) uint64 { return 1<<(8*uint(k)&63) - 1 | -uint64(k>>3) }

// nextLabelLoop is nextLabel for any label and name, eight bytes a step.
func nextLabelLoop(q string, end int, w *packedLabel) (start, n int, ok bool) {
	code, bad := codes8(loadEnd(q, end))
	if bad == 0 {
		return longLabel(q, end, w, code)
	}
	k := bits.LeadingZeros64(bad) >> 3
	w[0] = pack8(bits.ReverseBytes64(code) & lowBytes(k))
	i := end - 1 - k
	if !splitsAt(q, i) {
		return 0, 0, false
	}
	return i + 1, k, k > 0
}

// loadEnd returns the eight bytes of q that end at e, little endian (so
// q[e-1] is the top byte), with zero bytes in place of any before q[0].
func loadEnd(q string, e int) uint64 {
	if e >= 8 {
		return load8(q[e-8 : e])
	}
	return loadShort(q, e)
}

// longLabel is nextLabel for a label of eight bytes or more; code holds
// the codes of its last eight.
func longLabel(q string, end int, w *packedLabel, code uint64) (start, n int, ok bool) {
	b := bitPacker{acc: pack8(bits.ReverseBytes64(code)), sh: 48}
	for e := end - 8; ; e -= 8 {
		if end-e > MaxLabelLen {
			return 0, 0, false
		}
		code, bad := codes8(loadEnd(q, e))
		k := 8 // codes at the right end of this chunk
		if bad != 0 {
			k = bits.LeadingZeros64(bad) >> 3
		}
		if !b.put(w, pack8(bits.ReverseBytes64(code)&lowBytes(k)), uint(6*k)) {
			return 0, 0, false
		}
		if k < 8 {
			i := e - 1 - k
			if !splitsAt(q, i) {
				return 0, 0, false
			}
			start = i + 1
			break
		}
	}
	if !b.flush(w) {
		return 0, 0, false
	}
	n = end - start
	return start, n, n <= MaxLabelLen
}

// load8 reads eight bytes little endian (one load on amd64 and arm64).
func load8(b string) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// loadShort returns q[:e] (e < 8) as the top bytes of a word, zero bytes
// standing in for the ones before the start of q.
func loadShort(q string, e int) uint64 {
	if e <= 0 {
		return 0
	}
	if len(q) >= 8 {
		return load8(q[:8]) << (8 * uint(8-e) & 63)
	}
	var x uint64
	for i := range e {
		x |= uint64(q[i]) << (8 * uint(8-e+i) & 63)
	}
	return x
}

// SWAR constants: one bit or byte per byte lane.
const (
	lanes = 0x0101010101010101
	highs = 0x8080808080808080
)

// codes8 maps eight bytes to their codes (see charCode), and sets the high
// bit of each byte in bad that ends a label (a dot) or cannot be in one
// without colliding with a label byte's code (control bytes, DEL, bytes >=
// 0x80, and zero bytes, which loadEnd puts before the start of a name).
func codes8(x uint64) (code, bad uint64) {
	v := x &^ highs
	flip := (^x >> 6 & lanes) * 0x30 // 0x30 in lanes without bit 6
	code = (x|0x20*lanes)&(0x3f*lanes) ^ flip
	// Bit 7 of a lane of v+(0x80-c) is set iff the byte is >= c, and of
	// v+(0x7f-c) iff it is > c; 7-bit lanes cannot carry into each other.
	ctrl := ^(v + 0x60*lanes) // below 0x20
	del := v + lanes          // 0x7f
	dot := (v + (0x80-'.')*lanes) &^ (v + (0x7f-'.')*lanes)
	bad = (x | ctrl | del | dot) & highs
	return code, bad
}

// pack8 squeezes eight 6-bit codes, one per byte, into the low 48 bits.
func pack8(r uint64) uint64 {
	r = r&0x003f003f003f003f | (r&0x3f003f003f003f00)>>2
	r = r&0x00000fff00000fff | (r&0x0fff00000fff0000)>>4
	return r&0x0000000000ffffff | (r&0x00ffffff00000000)>>8
}

// splitsAt reports whether q[i], the byte before a label, separates it
// from the rest of the name: there is none (i < 0) or it is a dot that no
// backslash escapes. Anything else makes the name match no rule.
func splitsAt(q string, i int) bool {
	return i < 0 || q[i] == '.' && !(i > 0 && q[i-1] == '\\' && escaped(q, i))
}

// escaped reports whether q[i] is preceded by an odd number of backslashes,
// that is, written as an escape in presentation format.
func escaped(q string, i int) bool {
	k := 0
	for j := i - 1; j >= 0 && q[j] == '\\'; j-- {
		k++
	}
	return k&1 == 1
}

// trimDot removes one trailing unescaped dot: the FQDN form off the wire.
func trimDot(q string) string {
	if n := len(q); n > 0 && q[n-1] == '.' && !escaped(q, n-1) {
		return q[:n-1]
	}
	return q
}
