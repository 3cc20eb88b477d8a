package blocklist

import (
	"bytes"
	"strings"
	"testing"
)

// appendKey appends name's key to dst, a label at a time from the end:
// the naive reference putKey is held to.
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

// checkPutKey holds putKey, run on a scratch that a longer name dirtied
// first, to appendKey and packKey, the byte-at-a-time definitions.
func checkPutKey(t *testing.T, name string) {
	t.Helper()
	var k keyBuf
	putKey(&k, strings.Repeat("q.", MaxNameLen/2)+"z") // leave junk behind
	n := putKey(&k, name)
	want := appendKey(nil, name)
	if got := k.key[:n]; !bytes.Equal(got, want) {
		t.Fatalf("putKey(%q) = %q, appendKey = %q", name, got, want)
	}
	w0, w1 := packKey(want)
	g0, g1 := packKeyBuf((*[inlineSyms]byte)(k.key[:inlineSyms]), n > inlineSyms)
	if g0 != w0 || g1 != w1 {
		t.Fatalf("packKeyBuf of %q = %x %x, packKey = %x %x", name, g0, g1, w0, w1)
	}
	checkKeyLabels(t, want)
}

// checkKeyLabels holds the trie's pass's reading of labels from an
// entry's words (keyLabel, nextZeroSym, symAt) to its reading of them
// from the key's bytes (packKeyLabel, keyLabelEnd), for every label of
// key that starts among the inline symbols.
func checkKeyLabels(t *testing.T, key []byte) {
	t.Helper()
	p0, p1 := packKey(key)
	c0, c1, z0, z1 := keyCodes(p0), keyCodes(p1), keyZeros(p0), keyZeros(p1)
	for i := range min(len(key), inlineSyms) {
		if got := symAt(p0, p1, i); got != uint64(keySym[key[i]]) {
			t.Fatalf("key %q: symAt %d = %d, want %d", key, i, got, keySym[key[i]])
		}
	}
	buf := append(bytes.Repeat([]byte{'z'}, 8), key...)
	buf = append(buf, make([]byte, 8)...)
	for s := 0; s < min(len(key), inlineSyms); {
		end := keyLabelEnd(buf[8:], s, len(key))
		got := nextZeroSym(z0, z1, s)
		if end >= inlineSyms && len(key) > inlineSyms { // the byte path's
			if got != inlineSyms {
				t.Fatalf("key %q: nextZeroSym %d = %d, want %d (the label reaches the tail)", key, s, got, inlineSyms)
			}
			break
		}
		if got != end {
			t.Fatalf("key %q: nextZeroSym %d = %d, keyLabelEnd %d", key, s, got, end)
		}
		if w, want := keyLabel(c0, c1, s, end), packKeyLabel(buf, 8+s, 8+end); w != want {
			t.Fatalf("key %q: keyLabel %d-%d = %x, packKeyLabel %x", key, s, end, w, want)
		}
		s = end + 1
	}
}

// TestKeyLabel holds keyLabel and nextZeroSym to the byte path on keys
// whose labels end around the words' bounds (10 and 20 symbols), of
// every label byte, and on every single symbol at every place of a word.
func TestKeyLabel(t *testing.T) {
	for _, name := range []string{
		"com", "a.com", "abcdef.com", "abcdefg.com", "abcdefgh.com", "abcdefghijklmnop.com",
		"abcdefghijklmnopq.com", "abcdefghijklmnopqr.com", "x.abcdefghijklmno.com", "x.abcdefghijklmn.com",
		"abcdefghijklmnopqrst", "abcdefghij", "abcdefghi.k", "a.b.c.d.e.f.g.h.i.j.k",
		"_dmarc.mail-1.example.co.uk", "_-_.0-9_z.a-b", "0123456789.0123456789", "zzzzzzzzzz.zzzzzzzzz",
		"abcdefghijklmnopqrstu.com", "x.abcdefghijklmnopq.com", "xn--bcher-kva.example",
		strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".c",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := CanonicalName(name); err != nil {
				t.Fatal(err)
			}
			checkKeyLabels(t, appendKey(nil, name))
		})
	}
	const chars = "-0123456789_abcdefghijklmnopqrstuvwxyz"
	for i := range chars {
		if i > 0 && keySym[chars[i]] <= keySym[chars[i-1]] || symByte[keySym[chars[i]]] != chars[i] {
			t.Fatalf("keySym[%q] = %d: not in byte order or not symByte's inverse", chars[i], keySym[chars[i]])
		}
	}
	for _, fill := range []byte{0, 1, 31, 63} { // the other lanes: zero, '-', '_', all ones
		for i := range wordSyms {
			for c := range 64 {
				sh := uint(58 - 6*i)
				p := uint64(fill)*symLanes<<4&^(63<<sh) | uint64(c)<<sh
				code, zero := keyCodes(p)>>(sh-4)&63, keyZeros(p)>>(sh-4)&63
				if want := charCode(symByte[c]); c != 0 && symByte[c] != 0 && code != uint64(want) {
					t.Fatalf("keyCodes of symbol %d (%q) at %d among %d = %d, want %d", c, symByte[c], i, fill, code, want)
				}
				if (zero != 0) != (c == 0) {
					t.Fatalf("keyZeros of symbol %d at %d among %d = %x", c, i, fill, zero)
				}
			}
		}
	}
}

func TestPutKey(t *testing.T) {
	long := strings.Repeat("abcdefghi.", 25) + "com" // 253 bytes
	for _, name := range []string{
		"", "com", "a.com", "www.example.com", "a.b.c.d.e.f.g.h", "abcdefgh.ijklmnop",
		"abcdefghijklmnopqrstu.com", "x.abcdefghijklmnopqrst", "_dmarc.mail-1.example.co.uk",
		strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".c", long, long[1:], long[:len(long)-4],
		"0.1.2.3.4.5.6.7.8.9.a", "xn--bcher-kva.example",
	} {
		t.Run(name, func(t *testing.T) { checkPutKey(t, name) })
	}
}

// FuzzPutKey holds putKey to appendKey for every canonical name.
func FuzzPutKey(f *testing.F) {
	for _, s := range []string{"a.com", "www.example.co.uk", strings.Repeat("ab.", 84) + "c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := CanonicalName(s)
		if err != nil {
			return
		}
		checkPutKey(t, name)
	})
}

// keyBenchNames are names of the shape of a generated list's, for the key
// benchmarks.
var keyBenchNames = []string{"qiqjjr.com", "momemolyb.cn", "zoadraixraix.de", "www.example.co.uk", "a.b.cdn.example.net", "xk3.io", "verylongregistrablename.com", "m.shop-online24.ru"}

// BenchmarkPutKey is Add's key: putKey and packKeyBuf.
func BenchmarkPutKey(b *testing.B) {
	var k keyBuf
	var sink uint64
	for i := 0; b.Loop(); i++ {
		n := putKey(&k, keyBenchNames[i%len(keyBenchNames)])
		p0, p1 := packKeyBuf((*[inlineSyms]byte)(k.key[:inlineSyms]), n > inlineSyms)
		sink += p0 ^ p1
	}
	_ = sink
}

// BenchmarkAppendKey is what Add did before putKey: appendKey and packKey.
func BenchmarkAppendKey(b *testing.B) {
	var key []byte
	var sink uint64
	for i := 0; b.Loop(); i++ {
		key = appendKey(key[:0], keyBenchNames[i%len(keyBenchNames)])
		p0, p1 := packKey(key)
		sink += p0 ^ p1
	}
	_ = sink
}
