// Command triebench measures the blocklist trie against the two obvious
// alternatives, built from the same names in the same run: a
// map[string]struct{} probed at each label boundary, and a sorted []string
// searched once per suffix. It prints one "key value" line per figure.
//
//	go run ./bench/triebench                 # 1,000,000 synthetic names
//	go run ./bench/triebench -n 100000
//	go run ./bench/triebench -list ../shared/data/disposable_domains.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	namegen "github.com/bulwark-dns/bulwark/bench/internal/names"
	"github.com/bulwark-dns/bulwark/internal/cputime"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/suffixset"
)

func main() {
	n := flag.Int("n", 1_000_000, "synthetic names to generate (ignored with -list)")
	list := flag.String("list", "", "benchmark this one-name-per-line file instead of a synthetic list")
	seed := flag.Uint64("seed", 20261121, "seed of the synthetic list and the queries")
	reps := flag.Int("reps", 7, "timed repetitions; the median is reported")
	nq := flag.Int("queries", 200_000, "queries per workload and repetition")
	ref := flag.String("ref", "../shared/data/disposable_domains.txt", "real list to compare the synthetic list's shape with (skipped if absent)")
	flag.Parse()
	if err := run(os.Stdout, *n, *list, *seed, *reps, *nq, *ref); err != nil {
		fmt.Fprintln(os.Stderr, "triebench:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, n int, list string, seed uint64, reps, nq int, ref string) error {
	p := func(k string, v any) {
		if f, ok := v.(float64); ok {
			v = fmt.Sprintf("%.4g", f)
		}
		fmt.Fprintln(out, k, v)
	}
	var names []string
	if list != "" {
		var err error
		if names, err = readNames(list); err != nil {
			return err
		}
		p("source", list)
	} else {
		names = namegen.Unique(n, seed)
		p("source", fmt.Sprintf("synthetic(seed=%d)", seed))
	}
	if len(names) == 0 {
		return fmt.Errorf("no names to benchmark")
	}
	p("gomaxprocs", runtime.GOMAXPROCS(0))
	st := shape(names)
	p("entries", len(names))
	p("raw_text_bytes", st.raw)
	p("mean_name_bytes", st.meanName)
	p("mean_labels", st.meanLabels)
	p("mean_label_bytes", st.meanLabel)
	if list == "" && ref != "" {
		if refNames, err := readNames(ref); err == nil {
			rs := shape(refNames)
			p("ref_list", ref)
			p("ref_mean_name_bytes", rs.meanName)
			p("ref_mean_labels", rs.meanLabels)
			p("ref_mean_label_bytes", rs.meanLabel)
		}
	}

	// Build each structure from the same names, measuring the live heap
	// it adds once the garbage of building is collected.
	var set *blocklist.Set
	var buildErr error
	trie := measure(func() {
		b := blocklist.NewBuilder()
		b.Grow(len(names)) // as a feed would: it knows its line count
		for _, nm := range names {
			if err := b.Add(blocklist.Rule{Name: nm, Scope: blocklist.Subtree}); err != nil {
				buildErr = err
				return
			}
		}
		set, buildErr = b.Build()
	})
	if buildErr != nil {
		return buildErr
	}
	var m map[string]struct{}
	mp := measure(func() {
		m = make(map[string]struct{}, len(names))
		for _, nm := range names {
			m[strings.Clone(nm)] = struct{}{}
		}
	})
	var sorted []string
	so := measure(func() {
		sorted = make([]string, len(names))
		for i, nm := range names {
			sorted[i] = strings.Clone(nm)
		}
		slices.Sort(sorted)
		sorted = slices.Compact(sorted)
	})

	p("trie_heap_bytes", trie.heap)
	p("trie_size_bytes", set.SizeBytes())
	p("trie_bytes_per_entry", float64(trie.heap)/float64(len(names)))
	p("trie_heap_ratio_vs_raw", float64(trie.heap)/float64(st.raw))
	p("map_heap_bytes", mp.heap)
	p("sorted_heap_bytes", so.heap)
	p("trie_heap_ratio_vs_map", float64(trie.heap)/float64(mp.heap))
	p("trie_rules", set.Len())
	p("trie_build_seconds", trie.wall.Seconds())
	p("trie_build_cpu_seconds", trie.cpu.Seconds())
	p("map_build_seconds", mp.wall.Seconds())
	p("map_build_cpu_seconds", mp.cpu.Seconds())
	p("sorted_build_seconds", so.wall.Seconds())

	w := makeWorkloads(names, m, seed, nq)
	mapMatch := func(q string) bool { return suffixset.Covers(m, q) }
	sortedMatch := func(q string) bool { return sortedLookup(sorted, q) }
	trieMatch := func(q string) bool { _, ok := set.Match(q); return ok }

	// Every structure must give the same answers, or the timings mean nothing.
	mismatches := 0
	for _, qs := range [][]string{w.hit, w.miss} {
		for _, q := range qs {
			t, mp, so := trieMatch(q), mapMatch(q), sortedMatch(q)
			if t != mp || t != so {
				mismatches++
			}
		}
	}
	for i, q := range w.wire {
		if trieMatch(q) != trieMatch(w.hit[i]) {
			mismatches++
		}
	}
	p("verify_mismatches", mismatches)

	// Repetitions interleave the structures so that the machine's noise
	// falls on all of them alike; medians are reported. The figures are
	// per-thread CPU time (see timeLoop); the _wall ones are wall clock.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	type series struct {
		key    string
		qs     []string
		fn     func(string) bool
		ns, wl []float64
	}
	all := []*series{
		{key: "trie_match_ns_hit", qs: w.hit, fn: trieMatch},
		{key: "trie_match_ns_miss", qs: w.miss, fn: trieMatch},
		{key: "trie_match_ns_mixed", qs: w.mixed, fn: trieMatch},
		{key: "trie_match_ns_hit_wire_form", qs: w.wire, fn: trieMatch},
		{key: "map_match_ns_hit", qs: w.hit, fn: mapMatch},
		{key: "map_match_ns_miss", qs: w.miss, fn: mapMatch},
		{key: "map_match_ns_mixed", qs: w.mixed, fn: mapMatch},
		{key: "sorted_match_ns_hit", qs: w.hit, fn: sortedMatch},
		{key: "sorted_match_ns_miss", qs: w.miss, fn: sortedMatch},
	}
	for range reps {
		for _, s := range all {
			cpu, wall := timeLoop(s.qs, s.fn)
			s.ns, s.wl = append(s.ns, cpu), append(s.wl, wall)
		}
	}
	med := map[string]float64{}
	for _, s := range all {
		med[s.key] = median(s.ns)
		med[s.key+"_wall"] = median(s.wl)
		p(s.key, med[s.key])
	}
	if _, ok := cputime.Thread(); ok {
		p("match_clock", "thread_cpu")
	} else {
		p("match_clock", "wall")
	}
	p("trie_match_ratio_vs_map", med["trie_match_ns_mixed"]/med["map_match_ns_mixed"])
	p("trie_match_ratio_vs_map_hit", med["trie_match_ns_hit"]/med["map_match_ns_hit"])
	p("trie_match_ratio_vs_map_miss", med["trie_match_ns_miss"]/med["map_match_ns_miss"])
	for _, k := range []string{"trie_match_ns_hit", "trie_match_ns_miss", "trie_match_ns_mixed", "map_match_ns_hit", "map_match_ns_miss", "map_match_ns_mixed"} {
		p(k+"_wall", med[k+"_wall"])
	}
	p("trie_match_ratio_vs_map_wall", med["trie_match_ns_mixed_wall"]/med["map_match_ns_mixed_wall"])
	p("trie_allocs_per_match", allocsPerMatch(set, w.mixed))

	size, load, err := snapshotFigures(set)
	if err != nil {
		return err
	}
	p("snapshot_bytes", size)
	p("snapshot_load_seconds", load.Seconds())
	runtime.KeepAlive(m)
	runtime.KeepAlive(sorted)
	return nil
}

func readNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && l[0] != '#' {
			names = append(names, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return names, nil
}

type listShape struct {
	raw                             int
	meanName, meanLabels, meanLabel float64
}

// shape describes a list the way the reference generator is specified,
// so that the synthetic list can be compared with a real one.
func shape(names []string) listShape {
	var s listShape
	labels, labelBytes := 0, 0
	for _, nm := range names {
		s.raw += len(nm) + 1
		k := strings.Count(nm, ".") + 1
		labels += k
		labelBytes += len(nm) - (k - 1)
	}
	s.meanName = float64(s.raw-len(names)) / float64(len(names))
	s.meanLabels = float64(labels) / float64(len(names))
	s.meanLabel = float64(labelBytes) / float64(labels)
	return s
}

// built is what measure found out about building one structure.
type built struct {
	heap int64         // live heap it added, after collecting the garbage
	wall time.Duration // how long building took
	cpu  time.Duration // CPU the process spent on it, GC included
}

// measure runs build and returns the live heap it left behind and how long
// it took. The CPU time shows the work when other load on a shared machine
// stretches the wall clock.
func measure(build func()) built {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	c0 := cputime.Process()
	start := time.Now()
	build()
	elapsed := time.Since(start)
	cpu := cputime.Process() - c0
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return built{heap: int64(after.HeapAlloc) - int64(before.HeapAlloc), wall: elapsed, cpu: cpu}
}

type workloads struct {
	hit   []string // listed names and subdomains of them, half each
	miss  []string // names no rule covers
	mixed []string // hit and miss alternating
	wire  []string // hit, in mixed case with the trailing dot
}

func makeWorkloads(names []string, m map[string]struct{}, seed uint64, nq int) workloads {
	rng := rand.New(rand.NewPCG(seed, 99))
	g := namegen.New(seed + 1)
	var w workloads
	for i := range nq {
		nm := names[rng.IntN(len(names))]
		if i%2 == 1 {
			nm = []string{"www", "a", "login", "x1"}[rng.IntN(4)] + "." + nm
		}
		// Queries are fresh strings, as a name parsed from a packet is,
		// not the list's own strings (whose memory the map shares).
		w.hit = append(w.hit, strings.Clone(nm))
		w.wire = append(w.wire, randomCase(rng, nm)+".")
	}
	for len(w.miss) < nq {
		if q := g.Domain(); !suffixset.Covers(m, q) {
			w.miss = append(w.miss, q)
		}
	}
	for i := range nq {
		w.mixed = append(w.mixed, w.hit[i], w.miss[i])
	}
	w.mixed = w.mixed[:nq]
	return w
}

func randomCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && rng.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// sortedLookup binary-searches the full name, then each shorter suffix.
func sortedLookup(s []string, q string) bool {
	for {
		if i := sort.SearchStrings(s, q); i < len(s) && s[i] == q {
			return true
		}
		i := strings.IndexByte(q, '.')
		if i < 0 {
			return false
		}
		q = q[i+1:]
	}
}

// timeLoop returns the mean ns per query over qs, by the thread's CPU
// clock (wall clock where there is none) and by the wall clock.
func timeLoop(qs []string, fn func(string) bool) (cpu, wall float64) {
	hits := 0
	c0, ok := cputime.Thread()
	start := time.Now()
	for _, q := range qs {
		if fn(q) {
			hits++
		}
	}
	el := time.Since(start)
	c1, _ := cputime.Thread()
	runtime.KeepAlive(hits)
	wall = float64(el.Nanoseconds()) / float64(len(qs))
	if !ok {
		return wall, wall
	}
	return float64(c1-c0) / float64(len(qs)), wall
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func allocsPerMatch(set *blocklist.Set, qs []string) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, q := range qs {
		set.Match(q)
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(len(qs))
}

// snapshotFigures writes the set to a temporary file and times loading it
// back (the median of three loads).
func snapshotFigures(set *blocklist.Set) (int64, time.Duration, error) {
	f, err := os.CreateTemp("", "triebench-*.snap")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	size, err := set.WriteTo(f)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("writing snapshot: %w", err)
	}
	var loads []float64
	for range 3 {
		runtime.GC()
		start := time.Now()
		r, err := os.Open(f.Name())
		if err != nil {
			return 0, 0, err
		}
		got, err := blocklist.ReadSet(r)
		el := time.Since(start)
		r.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("loading snapshot: %w", err)
		}
		if got.Len() != set.Len() {
			return 0, 0, fmt.Errorf("snapshot holds %d rules, the set %d", got.Len(), set.Len())
		}
		loads = append(loads, float64(el))
	}
	return size, time.Duration(median(loads)), nil
}
