package blocklist

import (
	"bytes"
	"encoding/binary"
	"math/bits"
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

// appendKey appends name's key to dst.
func appendKey(dst []byte, name string) []byte {
	for end := len(name); end > 0; {
		start := end - 1
		for start >= 0 && name[start] != '.' {
			start--
		}
		dst = append(dst, name[start+1:end]...)
		if start >= 0 {
			dst = append(dst, 0)
		}
		end = start
	}
	return dst
}

// packKey returns the words of key's first inlineSyms bytes, with keyLong
// set if it is longer. A key is never of a different length with the same
// words: padding is zero symbols, and a key does not end in a separator
// or hold two in a row.
func packKey(key []byte) (p0, p1 uint64) {
	// A fixed 20 bytes, zero-padded, so that the loop has no branch on
	// the key's length, and the two words built side by side, so that
	// their shift-and-or chains overlap: 17 ns a key instead of 37.
	var k [inlineSyms]byte
	copy(k[:], key)
	for i := range wordSyms { // the two words' chains interleaved
		p0 = p0<<6 | uint64(keySym[k[i]])
		p1 = p1<<6 | uint64(keySym[k[wordSyms+i]])
	}
	p0, p1 = p0<<4, p1<<4
	if len(key) > inlineSyms {
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
