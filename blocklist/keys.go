package blocklist

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// The Builder's sort key of a canonical name is its labels in reverse
// order (the top label first) with a zero byte between them:
// "www.example.com" is "com\x00example\x00www". Byte order on keys puts a
// name right before the names below it, and those before its next
// sibling, as no label byte is below the separator: sorted, every subtree
// is one run, in depth-first order.
//
// An entry holds the key's first inlineSyms bytes itself, six bits a byte
// in two words that compare as the bytes do (keySym), and a flag for a
// longer key, whose remaining bytes (its tail) are in the Builder's tail
// buffer. Most names of real lists fit (a 16-byte registrable label under
// a 3-byte TLD does), so the sort compares two words and the trie's pass
// reads no other memory: the keys in sorted order would be scattered over
// the buffer, a cache miss each.

// wordSyms is how many key bytes one word of an entry holds, in its top
// 60 bits; the low 4 bits of the second word hold keyLong.
const (
	wordSyms   = 10
	inlineSyms = 2 * wordSyms
	keyLong    = 1 // the key is longer than inlineSyms: its tail is in the buffer
)

// keySym maps the bytes of a key to six-bit symbols in the same order:
// the separator (and the padding past a key's end) to 0, '-' to 1, the
// digits and letters to their label code (charCode, label.go) plus 2
// (2-11 and 35-60), and '_' between them to 31. symByte is its inverse.
// The label code itself is not in byte order, as the sort needs, but
// these symbols are it up to a subtraction and the swap of two values
// (keyCodes), so that the trie's pass cuts a label out of an entry's
// words with shifts and masks (keyLabel) rather than through bytes.
var keySym, symByte = func() (m [256]byte, inv [64]byte) {
	for _, c := range []byte("-0123456789_abcdefghijklmnopqrstuvwxyz") {
		s := charCode(c) + 2
		switch c {
		case '-':
			s = 1
		case '_':
			s = 31
		}
		m[c] = s
		inv[s] = c
	}
	return m, inv
}()

// keyBuf is Add's scratch for one key (putKey): the longest name's, a
// word of slack for whole-word stores past a label's end, and the name's
// own bytes, copied in once so that every word putKey reads is inside it.
type keyBuf struct {
	key  [256 + 8]byte // MaxNameLen and a word; indexes masked to 256 need no check
	src  [256 + 8]byte
	dots [128]uint8 // putKey's dot offsets: at most MaxNameLen/2 of them
}

// putKey writes the key of name (canonical, so at most MaxNameLen bytes
// of ASCII) to k.key and returns its length; the bytes of k.key past it
// up to inlineSyms are zero, as packKeyBuf wants them. It is the one
// writer of a name's key (keys_test.go's appendKey is its naive reference),
// without a byte-at-a-time search for the dots from the end and without
// an append per label (those were a ninth of the text side of a cold
// start): the dots are found a word at a time (eqBytes), and each label
// is copied a word at a time, labels in key order, so that a word stored
// past a label's end is overwritten by the separator and the label after
// it (or lies past the key's end).
func putKey(k *keyBuf, name string) int {
	n := len(name)
	if n == 0 || n > MaxNameLen { // the latter never: Add's names are canonical
		clear(k.key[:inlineSyms])
		return copy(k.key[:], name)
	}
	copy(k.src[:], name)
	// Whole words at byte offsets below n+8 <= len(k.src), len(k.key):
	// in bounds, so read and written without a bounds check each.
	src, key := unsafe.Pointer(&k.src[0]), unsafe.Pointer(&k.key[0])
	word := func(p unsafe.Pointer, off int) *uint64 { return (*uint64)(unsafe.Add(p, off)) }
	// k.dots[j] is the offset of the name's j-th dot, in name order.
	nd := 0
	for i := 0; i < n; i += 8 {
		// Little-endian whatever the machine's order: the masks below
		// and the dots' offsets count bytes from the word's low end.
		w := binary.LittleEndian.Uint64(k.src[i&255:])
		if r := n - i; r < 8 { // bytes past the name are another's
			w &= 1<<(8*uint(r)) - 1
		}
		for m := eqBytes(w, '.'); m != 0; m &= m - 1 {
			k.dots[nd&(len(k.dots)-1)] = uint8(i + bits.TrailingZeros64(m)>>3)
			nd++
		}
	}
	pos, end := 0, n
	for j := nd; j >= 0; j-- {
		start := 0
		if j > 0 {
			start = int(k.dots[(j-1)&(len(k.dots)-1)]) + 1
		}
		for o := 0; o < end-start; o += 8 {
			*word(key, pos+o) = *word(src, start+o)
		}
		pos += end - start
		if j > 0 {
			k.key[pos&255] = 0
			pos++
		}
		end = start - 1
	}
	if n < inlineSyms {
		clear(k.key[n:inlineSyms])
	}
	return n
}

// packKey returns the words of key's first inlineSyms bytes, with keyLong
// set if it is longer. A key is never of a different length with the same
// words: padding is zero symbols, and a key does not end in a separator
// or hold two in a row.
func packKey(key []byte) (p0, p1 uint64) {
	var k [inlineSyms]byte
	copy(k[:], key)
	return packKeyBuf(&k, len(key) > inlineSyms)
}

// packKeyBuf is packKey of a key whose first inlineSyms bytes, zero past
// its end, are k; long says it is longer than that.
func packKeyBuf(k *[inlineSyms]byte, long bool) (p0, p1 uint64) {
	// A fixed 20 bytes, zero-padded, so that there is no branch on the
	// key's length, and the two words built side by side, so that their
	// shift-and-or chains overlap: 17 ns a key instead of 37. Written out
	// rather than a loop of ten, whose counting was a fifth of the work.
	s := &keySym
	p0 = uint64(s[k[0]])<<58 | uint64(s[k[1]])<<52 | uint64(s[k[2]])<<46 | uint64(s[k[3]])<<40 | uint64(s[k[4]])<<34 |
		uint64(s[k[5]])<<28 | uint64(s[k[6]])<<22 | uint64(s[k[7]])<<16 | uint64(s[k[8]])<<10 | uint64(s[k[9]])<<4
	p1 = uint64(s[k[10]])<<58 | uint64(s[k[11]])<<52 | uint64(s[k[12]])<<46 | uint64(s[k[13]])<<40 | uint64(s[k[14]])<<34 |
		uint64(s[k[15]])<<28 | uint64(s[k[16]])<<22 | uint64(s[k[17]])<<16 | uint64(s[k[18]])<<10 | uint64(s[k[19]])<<4
	if long {
		p1 |= keyLong
	}
	return p0, p1
}

// unpackKey appends the key's inline bytes held in p0 and p1 to dst: all
// of them for a long key, else those up to the last non-zero symbol (the
// rest is padding: a separator is always followed by a label byte).
func unpackKey(dst []byte, p0, p1 uint64) []byte {
	n := inlineLen(p0, p1)
	at := len(dst)
	dst = append(dst, make([]byte, n)...)
	unpackSyms(dst[at:], p0, p1, 0)
	return dst
}

// inlineLen is the number of key bytes p0 and p1 hold (unpackKey).
func inlineLen(p0, p1 uint64) int {
	switch {
	case p1&keyLong != 0:
		return inlineSyms
	case p1>>4 != 0:
		return inlineSyms - bits.TrailingZeros64(p1>>4)/6
	case p0 != 0:
		return wordSyms - bits.TrailingZeros64(p0>>4)/6
	}
	return 0
}

// unpackSyms writes the key bytes from from on held in p0 and p1 to
// b[from:], as many as b holds (at most inlineSyms).
func unpackSyms(b []byte, p0, p1 uint64, from int) {
	for i := from; i < min(len(b), wordSyms); i++ {
		b[i] = symByte[p0>>(58-6*uint(i))&63]
	}
	for i := max(from, wordSyms); i < len(b); i++ {
		b[i] = symByte[p1>>(58-6*uint(i-wordSyms))&63]
	}
}

// sharedSyms returns how many leading symbols the inline words of two
// keys share, padding included (at most inlineSyms).
func sharedSyms(p0, p1, q0, q1 uint64) int {
	if x := p0 ^ q0; x != 0 {
		return bits.LeadingZeros64(x) / 6
	}
	if x := (p1 ^ q1) &^ (1<<4 - 1); x != 0 {
		return wordSyms + bits.LeadingZeros64(x)/6
	}
	return inlineSyms
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)>>3
		}
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// tailAt returns the tail stored at off in the tail buffer.
func tailAt(tails []byte, off uint32) []byte {
	n := int(tails[off])
	return tails[off+1 : int(off)+1+n]
}

// compareTails compares the tails at offsets x and y.
func compareTails(tails []byte, x, y uint32) int {
	return bytes.Compare(tailAt(tails, x), tailAt(tails, y))
}

// packKeyLabel is packLabel for the label buf[s:end] of a key, with at
// least eight bytes of buf before s: it loads eight bytes a step, those
// before the label masked off, never byte by byte as packLabel does for
// a short label in a string of its own (a fifth of the trie's pass).
func packKeyLabel(buf []byte, s, end int) (w packedLabel) {
	var b bitPacker
	for e := end; e > s; e -= 8 {
		code, _ := codes8(binary.LittleEndian.Uint64(buf[e-8 : e]))
		k := min(e-s, 8)
		b.put(&w, pack8(bits.ReverseBytes64(code)&lowBytes(k)), uint(6*k))
	}
	b.flush(&w)
	return w
}

// Six-bit lanes of a word's ten symbols shifted down to bit 0 (p >> 4):
// a one in each lane's low bit, its low five bits, its top bit.
const (
	symLanes = 0x041041041041041
	symLow5  = symLanes * 0x1f
	symHigh  = symLanes << 5
)

// keyCodes returns the label codes (charCode) of the ten symbols of an
// entry's word p, in the symbols' places shifted down four bits: symbol
// i at bits 54-6i to 59-6i. A symbol less 2 is its code (keySym) but for
// '-' and '_', which come out as each other's (63 and 29): they are the
// only symbols that come out with bits 0, 2, 3 and 4 set, and flipping
// bits 1 and 5 swaps them. Separators and padding come out as 62.
func keyCodes(p uint64) uint64 {
	x := p >> 4
	// Less 2 in every lane: each lane has its top bit set first, so no
	// borrow crosses lanes, and the top bit is then put right.
	y := ((x | symHigh) - 2*symLanes) ^ (^x & symHigh)
	f := y & (y >> 2) & (y >> 3) & (y >> 4) & symLanes
	return y ^ f<<1 ^ f<<5
}

// keyZeros flags the zero symbols (separators and padding) of an entry's
// word p: the top bit of each zero lane, in keyCodes' places. The sum's
// lanes are at most 62, so none carries into the next.
func keyZeros(p uint64) uint64 {
	x := p >> 4
	return ^((x&symLow5 + symLow5) | x) & symHigh
}

// nextZeroSym returns where the first zero symbol at or after s (below
// inlineSyms) is among the inline ones, given their words' keyZeros, or
// inlineSyms if there is none: in a short key, where the label that
// starts at s ends (the key's end is followed by padding).
func nextZeroSym(z0, z1 uint64, s int) int {
	if s < wordSyms {
		if m := z0 & (1<<((60-6*uint(s))&63) - 1); m != 0 {
			return int(uint(bits.LeadingZeros64(m)-4) / 6)
		}
		s = wordSyms
	}
	if m := z1 & (1<<((60-6*uint(s-wordSyms))&63) - 1); m != 0 {
		return wordSyms + int(uint(bits.LeadingZeros64(m)-4)/6)
	}
	return inlineSyms
}

// symAt returns the inline symbol i (below inlineSyms) of words p0, p1.
func symAt(p0, p1 uint64, i int) uint64 {
	if i >= wordSyms {
		p0, i = p1, i-wordSyms
	}
	return p0 >> ((58 - 6*uint(i)) & 63) & 63
}

// keyLabel is packKeyLabel for a label of inline symbols, s to end-1
// (end <= inlineSyms), from its entry's words' keyCodes c0 and c1. The
// words hold the key's first symbol at the top and the packed label its
// last byte's code at the bottom: so the label, read as one number from
// the words, is already in packed order, and is cut out of them with a
// shift and a mask.
func keyLabel(c0, c1 uint64, s, end int) (w packedLabel) {
	var lo, hi uint64
	if end <= wordSyms {
		lo = c0 >> (6 * uint(wordSyms-end) & 63)
	} else {
		// c0's low bits above the label's sh bits of c1, 128 bits wide.
		sh := 6 * uint(end-wordSyms) // 6 to 60
		lo = c1>>((60-sh)&63) | c0<<(sh&63)
		hi = c0 >> ((64 - sh) & 63)
	}
	nb := 6 * uint(end-s) // at most 120
	w[0] = lo & (1<<(nb&63) - 1 | -uint64(nb>>6))
	w[1] = hi & (1<<((max(nb, 64)-64)&63) - 1)
	return w
}
