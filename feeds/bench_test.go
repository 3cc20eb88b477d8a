package feeds

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cputime"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// listFile is a list for the *ListFile benchmarks, e.g. bench/gen's
// blocklist.txt, whose random names share fewer labels than benchList's
// and make the build slower: the shape bench/memory's cold start loads.
var listFile = flag.String("list", "", "domains list for the ListFile benchmarks (default: benchList's 1M names)")

// listFileData is *listFile's content, or benchList's 1M names.
func listFileData(b *testing.B) []byte {
	if *listFile == "" {
		return benchList(b, 1_000_000, false)
	}
	data, err := os.ReadFile(*listFile)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// reportCPU adds cpu-ns/op, the process's CPU time since cpu0 per op, to
// b's results: on a shared machine the wall time counts other jobs'
// turns too, the CPU time much less.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkLoadListFile is BenchmarkLoad1M on -list.
func BenchmarkLoadListFile(b *testing.B) {
	l := Loader{Builtin: fstest.MapFS{"big.txt": {Data: listFileData(b)}}}
	blocks := []ListConfig{{Name: "big", Source: "builtin:big.txt", Format: FormatDomains}}
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		if _, _, err := l.Load(context.Background(), blocks, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// listFileSpec is the spec of a domains list of data, as a config would
// give it, and a logger that drops everything, for the parse benchmarks.
func listFileSpec(b *testing.B, data []byte) (*feedSpec, *slog.Logger) {
	cfg := Config{}
	cfg.SetDefaults()
	specs, _, err := buildSpecs(&cfg, []ListConfig{{Name: "big", Source: "builtin:big.txt", Format: FormatDomains}}, nil,
		specEnv{builtin: fstest.MapFS{"big.txt": {Data: data}}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	return specs[0], slog.New(slog.DiscardHandler)
}

// BenchmarkParseListFile is the parse of a cold start without the build:
// parseRules as parseCopy runs it (names, allow_broad, payloads), the
// rules dropped.
func BenchmarkParseListFile(b *testing.B) {
	data := listFileData(b)
	sp, log := listFileSpec(b, data)
	cpu0 := cputime.Process()
	for b.Loop() {
		n := 0
		keep := func(*feedCopy, blocklist.Rule, ruleOrigin) error { n++; return nil }
		if _, err := parseRules(context.Background(), sp, bytes.NewReader(data), "bench", log, keep); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("no rules")
		}
	}
	reportCPU(b, cpu0)
}

// BenchmarkParseAddListFile is the text side of a cold start: the parse
// and the Builder's Add, as parseCopy runs them, without the build after
// (Finish: the sort, the trie, the compile), which is the blocklist
// package's own benchmarks' concern.
func BenchmarkParseAddListFile(b *testing.B) {
	data := listFileData(b)
	sp, log := listFileSpec(b, data)
	cpu0 := cputime.Process()
	for b.Loop() {
		bp := startBuild(len(data) / bytesPerRule)
		keep := func(_ *feedCopy, r blocklist.Rule, _ ruleOrigin) error { bp.add(r); return nil }
		if _, err := parseRules(context.Background(), sp, bytes.NewReader(data), "bench", log, keep); err != nil {
			b.Fatal(err)
		}
		if bl, dropped := bp.stop(); bl.Len() == 0 || dropped > 0 {
			b.Fatalf("%d rules, %d dropped", bl.Len(), dropped)
		}
	}
	reportCPU(b, cpu0)
}

// benchList builds an n-line list from real names (made unique with a
// numbered prefix), in domains or hosts form.
func benchList(b *testing.B, n int, hosts bool) []byte {
	if hosts {
		return benchListAs(b, n, "0.0.0.0 ", "\n")
	}
	return benchListAs(b, n, "", "\n")
}

// benchListAs builds an n-line list with each name between prefix and
// suffix ("||" and "^\n" for adblock, "" and " CNAME .\n" for RPZ).
func benchListAs(b *testing.B, n int, prefix, suffix string) []byte {
	b.Helper()
	src := testfile.Read(b, dataFile(b, "disposable_domains.txt"))
	names := bytes.Fields(src)
	var buf bytes.Buffer
	buf.Grow(n * 32)
	for i := 0; i < n; i++ {
		buf.WriteString(prefix)
		fmt.Fprintf(&buf, "h%d.%s", i/len(names), names[i%len(names)])
		buf.WriteString(suffix)
	}
	return buf.Bytes()
}

func benchParse(b *testing.B, parse ParseFunc, data []byte) {
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

func BenchmarkParseDomains1M(b *testing.B) {
	benchParse(b, ParseDomains, benchList(b, 1_000_000, false))
}

func BenchmarkParseHosts1M(b *testing.B) { benchParse(b, ParseHosts, benchList(b, 1_000_000, true)) }

func BenchmarkParseAdblock1M(b *testing.B) {
	benchParse(b, ParseAdblock, benchListAs(b, 1_000_000, "||", "^\n"))
}

func BenchmarkParseRPZ1M(b *testing.B) {
	benchParse(b, ParseRPZ, benchListAs(b, 1_000_000, "", " CNAME .\n"))
}

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

// BenchmarkRefresh1M is what a changed 1M-line HTTP feed costs the
// Manager: download over loopback, parse, and rebuild the merged table
// (another 1M-line list stays parsed and is only merged again).
func BenchmarkRefresh1M(b *testing.B) {
	body := benchListAs(b, 1_000_000, "||", "^\n")
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, n.Add(1))) // always changed
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	m, err := NewManager(Options{
		Builtin:    fstest.MapFS{"big.txt": {Data: benchList(b, 1_000_000, false)}},
		Blocklists: []ListConfig{{Name: "static", Source: "builtin:big.txt"}, {Name: "remote", Source: srv.URL}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.RefreshNow(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.Load().Set.Len()), "rules")
}
