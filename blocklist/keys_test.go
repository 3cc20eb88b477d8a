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
