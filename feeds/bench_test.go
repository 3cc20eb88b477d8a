package feeds

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"testing/fstest"
)

// benchList builds an n-line list from real names (made unique with a
// numbered prefix), in domains or hosts form.
func benchList(b *testing.B, n int, hosts bool) []byte {
	b.Helper()
	src, err := os.ReadFile(dataFile(b, "disposable_domains.txt"))
	if err != nil {
		b.Fatal(err)
	}
	names := bytes.Fields(src)
	var buf bytes.Buffer
	buf.Grow(n * 32)
	for i := 0; i < n; i++ {
		if hosts {
			buf.WriteString("0.0.0.0 ")
		}
		fmt.Fprintf(&buf, "h%d.%s\n", i/len(names), names[i%len(names)])
	}
	return buf.Bytes()
}

func benchParse(b *testing.B, parse ParseFunc, hosts bool) {
	data := benchList(b, 1_000_000, hosts)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := parse(bytes.NewReader(data), func(Entry) { n++ }, func(e LineError) { b.Fatal(e) }); err != nil {
			b.Fatal(err)
		}
		if n != 1_000_000 {
			b.Fatalf("%d entries", n)
		}
	}
}

// BenchmarkBaselineScan is the floor: split the same 1M lines and make one
// string per line, nothing else.
func BenchmarkBaselineScan(b *testing.B) {
	data := benchList(b, 1_000_000, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		n := 0
		for sc.Scan() {
			n += len(sc.Text())
		}
	}
}

func BenchmarkParseDomains1M(b *testing.B) { benchParse(b, ParseDomains, false) }

func BenchmarkParseHosts1M(b *testing.B) { benchParse(b, ParseHosts, true) }

// BenchmarkLoad1M is the whole load of a 1M-line list, builder included.
func BenchmarkLoad1M(b *testing.B) {
	l := Loader{Builtin: fstest.MapFS{"big.txt": {Data: benchList(b, 1_000_000, false)}}}
	blocks := []ListConfig{{Name: "big", Source: "builtin:big.txt"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := l.Load(context.Background(), blocks, nil); err != nil {
			b.Fatal(err)
		}
	}
}
