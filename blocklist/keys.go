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
// the separator (and the padding past a key's end) to 0, then '-', the
// digits, '_' and the letters. symByte is its inverse. It is not the
// compiled set's label code (charCode, label.go), which is not in byte
// order: the sort needs symbols that compare as the bytes do.
var keySym, symByte = func() (m [256]byte, inv [64]byte) {
	for i, c := range []byte("-0123456789_abcdefghijklmnopqrstuvwxyz") {
		m[c] = byte(i + 1)
		inv[i+1] = c
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
