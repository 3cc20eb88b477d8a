// Command gen writes the benchmark's data, deterministically from a seed:
//
//	blocklist.txt          N unique realistic domains, one per line (Bulwark, format domains)
//	unbound-localzone.conf the same list as `local-zone: "NAME." always_nxdomain`
//	rpz.zone               the same list as RPZ (origin rpz.bench.): `NAME CNAME .` and `*.NAME CNAME .`
//	q_allowed.txt          10,000 names not covered by the list (dnsperf format "NAME A")
//	q_blocked.txt          20,000 names: 50% listed names, 50% a random label under a listed name
//	q_mixed<i>.txt         -mixed lines each, i = 1..-rounds: 80% q_allowed, 15% q_blocked,
//	                       5% unique cache-miss names m<salt>-<n>.miss.bench.test
//	                       (throughput rounds)
//	q_mixed_lat<i>.txt     -mixed-lat lines each, i = 1..-rounds: the same mix (latency rounds)
//	checks.txt             names the harness checks on every resolver before measuring
//
// Every mixed file has miss names of its own, so each round's misses are
// new to every resolver.
//
// Name shape (as in the reference measurements): labels 3-24 characters
// (gauss mean 9, sd 4), 55% pronounceable / 30% random letters / 15% letters
// and digits, 12% of labels longer than 6 with a hyphen, 30 weighted TLDs,
// 25% with one subdomain label, 7% with two.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"github.com/bulwark-dns/bulwark/bench/internal/names"
	"github.com/bulwark-dns/bulwark/internal/suffixset"
	"hash/fnv"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
)

type writer struct {
	f *os.File
	*bufio.Writer
}

func create(dir, name string) *writer {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		log.Fatal(err)
	}
	return &writer{f, bufio.NewWriterSize(f, 1<<20)}
}

func (w *writer) close() {
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := w.f.Close(); err != nil {
		log.Fatal(err)
	}
}

// distinct draws n different domains from g, passing over those skip
// (if set) rejects; it returns them in order and as a set.
func distinct(g *names.Generator, n int, skip func(string) bool) ([]string, map[string]struct{}) {
	list := make([]string, 0, n)
	set := make(map[string]struct{}, n)
	for len(list) < n {
		d := g.Domain()
		if _, dup := set[d]; dup || (skip != nil && skip(d)) {
			continue
		}
		set[d] = struct{}{}
		list = append(list, d)
	}
	return list, set
}

// writeNames writes the file name in dir, a line (format) per name.
func writeNames(dir, name, format string, list []string) {
	w := create(dir, name)
	for _, d := range list {
		fmt.Fprintf(w, format, d)
	}
	w.close()
}

func main() {
	out := flag.String("out", "", "output directory (required)")
	n := flag.Int("n", 1_000_000, "blocklist size")
	seed := flag.Uint64("seed", 20261121, "seed of everything but the miss names")
	nAllowed := flag.Int("allowed", 10_000, "allowed (cached) query names")
	nBlocked := flag.Int("blocked", 20_000, "blocked query names")
	mixed := flag.Int("mixed", 2_000_000, "lines of each q_mixed<i>.txt")
	mixedLat := flag.Int("mixed-lat", 100_000, "lines of each q_mixed_lat<i>.txt")
	rounds := flag.Int("rounds", 1, "q_mixed<i>.txt and q_mixed_lat<i>.txt files to write")
	salt := flag.String("salt", "r1", "salt of the unique miss names")
	peers := flag.Bool("peers", true, "also write the list for Unbound (unbound-localzone.conf) and as RPZ (rpz.zone)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	if *out == "" || *n < 1 || *rounds < 1 {
		log.Fatal("usage: gen -out DIR [-n N] [-seed S] [-mixed LINES] [-mixed-lat LINES] [-rounds R] [-salt S]")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}

	// Blocklist.
	list, set := distinct(names.New(*seed), *n, nil)
	writeNames(*out, "blocklist.txt", "%s\n", list)
	if *peers {
		lz, rpz := create(*out, "unbound-localzone.conf"), create(*out, "rpz.zone")
		fmt.Fprintf(rpz, "$TTL 3600\n$ORIGIN rpz.bench.\n@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 60\n@ NS localhost.\n")
		for _, d := range list {
			fmt.Fprintf(lz, "local-zone: \"%s.\" always_nxdomain\n", d)
			fmt.Fprintf(rpz, "%s CNAME .\n*.%s CNAME .\n", d, d)
		}
		lz.close()
		rpz.close()
	}

	// Allowed names: same shape, not covered by the list.
	allowed, _ := distinct(names.New(*seed+1), *nAllowed, func(d string) bool { return suffixset.Covers(set, d) })
	writeNames(*out, "q_allowed.txt", "%s A\n", allowed)

	// Blocked names: listed names and names below listed names, from the whole list.
	gb := names.New(*seed + 2)
	blocked := make([]string, 0, *nBlocked)
	for i := range *nBlocked {
		d := list[gb.Rand().IntN(len(list))]
		if i%2 == 1 {
			d = gb.Sub() + "." + d
		}
		blocked = append(blocked, d)
	}
	writeNames(*out, "q_blocked.txt", "%s A\n", blocked)

	// Mixed workloads: same mix, different miss names per file.
	writeMixed := func(name, salt string, lines int) {
		h := fnv.New64a()
		h.Write([]byte(salt))
		r := rand.New(rand.NewPCG(*seed+3, h.Sum64()))
		w := create(*out, name)
		miss := 0
		for range lines {
			switch x := r.Float64(); {
			case x < 0.80:
				fmt.Fprintf(w, "%s A\n", allowed[r.IntN(len(allowed))])
			case x < 0.95:
				fmt.Fprintf(w, "%s A\n", blocked[r.IntN(len(blocked))])
			default:
				miss++
				fmt.Fprintf(w, "m%s-%d.miss.bench.test A\n", salt, miss)
			}
		}
		w.close()
	}
	for i := 1; i <= *rounds; i++ {
		writeMixed(fmt.Sprintf("q_mixed%d.txt", i), fmt.Sprintf("%st%d", *salt, i), *mixed)
		writeMixed(fmt.Sprintf("q_mixed_lat%d.txt", i), fmt.Sprintf("%sl%d", *salt, i), *mixedLat)
	}

	// Names every resolver must answer correctly before it is measured. The
	// last listed name is the load probe: a server that answers while still
	// loading blocks it last.
	w := create(*out, "checks.txt")
	fmt.Fprintf(w, "allowed %s\n", allowed[0])
	fmt.Fprintf(w, "listed %s\n", list[0])
	fmt.Fprintf(w, "sub probe-sub.%s\n", list[len(list)/2])
	fmt.Fprintf(w, "last %s\n", list[len(list)-1])
	fmt.Fprintf(w, "miss check-%s.miss.bench.test\n", *salt)
	w.close()
	fmt.Printf("gen: n=%d seed=%d allowed=%d blocked=%d mixed=%d mixed-lat=%d -> %s\n",
		*n, *seed, len(allowed), len(blocked), *mixed, *mixedLat, *out)
}
