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
// is one run, in depth-first order. In the buffer each key follows a
// length byte (a name has at most 253 bytes).

// appendKey appends name's key, after its length byte, to keys.
func appendKey(keys []byte, name string) []byte {
	keys = append(keys, byte(len(name)))
	for end := len(name); end > 0; {
		start := end - 1
		for start >= 0 && name[start] != '.' {
			start--
		}
		keys = append(keys, name[start+1:end]...)
		if start >= 0 {
			keys = append(keys, 0)
		}
		end = start
	}
	return keys
}

// entryKey returns the key stored at off.
func entryKey(keys []byte, off uint32) []byte {
	n := int(keys[off])
	return keys[off+1 : int(off)+1+n]
}

// keyPrefix returns the first prefixSyms bytes of k packed, six bits a
// byte, into a number that orders as they do: comparing prefixes orders
// keys as comparing the keys does, where the prefixes differ. Ten bytes
// rather than eight raw ones take in the top label and the start of the
// next, where most names of a large list differ, so the sort seldom
// reads the keys themselves (scattered over the buffer, a cache miss
// each).
func keyPrefix(k []byte) uint64 {
	var p uint64
	for i := range prefixSyms {
		p <<= 6
		if i < len(k) {
			p |= uint64(keySym[k[i]])
		}
	}
	return p
}

// prefixSyms is how many key bytes keyPrefix packs.
const prefixSyms = 10

// keySym maps the bytes of a key to six-bit symbols in the same order:
// the separator (and the padding past a key's end) to 0, then '-', the
// digits, '_' and the letters.
var keySym = func() (m [256]byte) {
	for i, c := range []byte("-0123456789_abcdefghijklmnopqrstuvwxyz") {
		m[c] = byte(i + 1)
	}
	return m
}()

// compareKeys compares the keys at offsets x and y.
func compareKeys(keys []byte, x, y uint32) int {
	return bytes.Compare(entryKey(keys, x), entryKey(keys, y))
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + tzBytes(x)
		}
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// tzBytes is the number of zero low bytes of x != 0.
func tzBytes(x uint64) int { return bits.TrailingZeros64(x) >> 3 }

// packLabelBytes is packLabel for a label held in bytes.
func packLabelBytes(label []byte) packedLabel {
	return packLabel(unsafe.String(unsafe.SliceData(label), len(label)))
}
