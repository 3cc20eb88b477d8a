package blocklist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/suffixset"
)

// benchNames makes n unique names shaped like the reference benchmark
// list (bench/triebench has the full generator): a 3-24 byte label under
// a weighted TLD, a quarter with a subdomain label, some with two.
func benchNames(n int) []string {
	rng := rand.New(rand.NewPCG(20261121, 1))
	tlds := []string{"com", "com", "com", "com", "net", "org", "io", "ru", "de", "co.uk", "xyz"}
	subs := []string{"www", "ads", "cdn", "metrics", "api", "static"}
	label := func() string {
		l := min(24, max(3, int(rng.NormFloat64()*4+9)))
		b := make([]byte, l)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(30)]
		}
		return string(b)
	}
	seen := map[string]bool{}
	names := make([]string, 0, n)
	for len(names) < n {
		d := label() + "." + tlds[rng.IntN(len(tlds))]
		switch k := rng.Float64(); {
		case k < 0.25:
			d = subs[rng.IntN(len(subs))] + "." + d
		case k < 0.32:
			d = label() + "." + subs[rng.IntN(len(subs))] + "." + d
		}
		if !seen[d] {
			seen[d] = true
			names = append(names, d)
		}
	}
	return names
}

type benchData struct {
	set              *Set
	hits, subs, miss []string
	upperFQDN, mixed []string
	names            []string
	snapshot         []byte
	baseline         map[string]struct{} // the same names, for the map baseline
}

func loadBench(b testing.TB, n int) *benchData {
	b.Helper()
	names := benchNames(n)
	bl := NewBuilder()
	for _, nm := range names {
		if err := bl.Add(Rule{Name: nm}); err != nil {
			b.Fatal(err)
		}
	}
	s := build(b, bl)
	d := &benchData{set: s, names: names, baseline: make(map[string]struct{}, len(names))}
	for _, nm := range names {
		d.baseline[strings.Clone(nm)] = struct{}{}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 1 << 16 {
		nm := names[rng.IntN(len(names))]
		d.hits = append(d.hits, nm)
		d.subs = append(d.subs, "x"+fmt.Sprint(rng.IntN(100))+"."+nm)
		d.upperFQDN = append(d.upperFQDN, strings.ToUpper(nm)+".")
		d.miss = append(d.miss, fmt.Sprintf("q%dzz.%s", rng.IntN(1e9), []string{"com", "net", "example"}[rng.IntN(3)]))
	}
	for i := range d.hits {
		d.mixed = append(d.mixed, d.hits[i], d.miss[i])
	}
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	d.snapshot = buf.Bytes()
	return d
}

func benchMatch(b *testing.B, qs []string, s *Set) {
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		s.Match(qs[i&(len(qs)-1)])
		i++
	}
}

func benchMap(b *testing.B, qs []string, m map[string]struct{}) {
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		suffixset.Covers(m, qs[i&(len(qs)-1)])
		i++
	}
}

// BenchmarkMatch measures Match on a 200k-name set: listed names,
// subdomains of them, misses, and upper-case FQDNs as they come off the
// wire, next to the map baseline on the same names and queries (Map*).
// `go run ./bench/triebench` does the same at 1M names, with memory.
func BenchmarkMatch(b *testing.B) {
	d := loadBench(b, 200_000)
	b.Run("Hit", func(b *testing.B) { benchMatch(b, d.hits, d.set) })
	b.Run("SubdomainHit", func(b *testing.B) { benchMatch(b, d.subs, d.set) })
	b.Run("Miss", func(b *testing.B) { benchMatch(b, d.miss, d.set) })
	b.Run("UpperFQDN", func(b *testing.B) { benchMatch(b, d.upperFQDN, d.set) })
	b.Run("Mixed", func(b *testing.B) { benchMatch(b, d.mixed, d.set) })
	b.Run("MapHit", func(b *testing.B) { benchMap(b, d.hits, d.baseline) })
	b.Run("MapSubdomainHit", func(b *testing.B) { benchMap(b, d.subs, d.baseline) })
	b.Run("MapMiss", func(b *testing.B) { benchMap(b, d.miss, d.baseline) })
	b.Run("MapMixed", func(b *testing.B) { benchMap(b, d.mixed, d.baseline) })
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				d.set.Match(d.mixed[i&(len(d.mixed)-1)])
				i++
			}
		})
	})
}

func BenchmarkBuild(b *testing.B) {
	names := benchNames(200_000)
	b.ReportAllocs()
	for b.Loop() {
		bl := NewBuilder()
		for _, nm := range names {
			if err := bl.Add(Rule{Name: nm}); err != nil {
				b.Fatal(err)
			}
		}
		build(b, bl)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(names)), "ns/rule")
}

func BenchmarkReadSet(b *testing.B) {
	d := loadBench(b, 200_000)
	b.SetBytes(int64(len(d.snapshot)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadSet(bytes.NewReader(d.snapshot)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchViewTenants is the tenants' case of the figures:
// one 1M-name list, two small block lists (one overlapping it) and 100
// five-name allow lists, asked as one policy (Match) and as a tenant with
// 2 of the block lists and its own allow list (MatchView), in one run.
func BenchmarkMatchViewTenants(b *testing.B) {
	names := benchNames(1_000_000)
	bl := NewBuilder()
	for i, nm := range names {
		if err := bl.Add(Rule{Name: nm, Payload: Payload{List: 0}}); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 0 {
			_ = bl.Add(Rule{Name: nm, Payload: Payload{List: 1}})
		}
	}
	for i := range 1000 {
		_ = bl.Add(Rule{Name: fmt.Sprintf("x%d.bench-extra.test", i), Payload: Payload{List: 2}})
	}
	for t := range 100 {
		for j := range 5 {
			_ = bl.Add(Rule{Name: fmt.Sprintf("a%d.t%d.allow.test", j, t), Allow: true, Payload: Payload{List: uint16(3 + t)}})
		}
	}
	s, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	view := NewView(0, 1, 3)
	rng := rand.New(rand.NewPCG(7, 7))
	var hits, subs, miss []string
	for range 1 << 16 {
		nm := names[rng.IntN(len(names))]
		hits = append(hits, nm)
		subs = append(subs, "x"+fmt.Sprint(rng.IntN(100))+"."+nm)
		miss = append(miss, fmt.Sprintf("q%dzz.%s", rng.IntN(1e9), []string{"com", "net", "example"}[rng.IntN(3)]))
	}
	for _, q := range []struct {
		name string
		qs   []string
	}{{"hit", hits}, {"sub", subs}, {"miss", miss}} {
		b.Run("one-policy/"+q.name, func(b *testing.B) { benchMatch(b, q.qs, s) })
		b.Run("tenant/"+q.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.MatchView(q.qs[i&(len(q.qs)-1)], view)
				i++
			}
		})
	}
}
