// Command recgen writes the data of bench/recursive: a loopback DNS
// hierarchy for NSD (a root, the com, net and org servers, and -servers
// hosting servers carrying -zones second-level zones, each server on its own
// 127.X.Y.Z address), the root hints the resolvers start from, and the
// query files of every workload. The same seed gives the same files.
//
// Zones: four in five delegate to two in-zone name servers (glue in the
// TLD), one in five to a hosting provider's name servers under net (glue
// only in net: a resolver asking for a com zone must look those up too).
// Every zone has www, mail and a wildcard, so that cold queries (fresh
// labels under a known zone) are cache misses that still resolve.
//
// Workloads: cold_<w>_<r>.txt (names never asked before, round r of
// workload w), warm.txt (www of known zones, looped), first_<r>.txt (www of
// zones no other file touches: the delegation is not cached either).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwark-dns/bulwark/bench/internal/names"
)

type server struct {
	name, addr string
	zones      []string // zone names it serves
}

type zone struct {
	name    string
	ns      []string // name server host names
	servers [2]int   // hosting servers (index into hosts)
	glue    bool     // ns are in the zone (glue in the TLD)
}

// options are recgen's flags.
type options struct {
	seed                         uint64
	zones, servers, rounds, warm int
	net, cold                    string
	first                        float64
}

func main() {
	out := flag.String("out", "", "output directory (required)")
	var o options
	flag.Uint64Var(&o.seed, "seed", 20261202, "random seed")
	flag.IntVar(&o.zones, "zones", 4400, "second-level zones")
	flag.IntVar(&o.servers, "servers", 11, "hosting servers (besides the root and the 3 TLD servers)")
	flag.StringVar(&o.net, "net", "127.53", "first two octets of the servers' addresses")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of each workload")
	flag.StringVar(&o.cold, "cold", "c5k:25000,c10k:50000,csat:200000", "cold workloads, name:lines per round")
	flag.IntVar(&o.warm, "warm", 3000, "zones in the warm set")
	flag.Float64Var(&o.first, "first", 0.3, "fraction of zones kept for the first-contact rounds")
	flag.Parse()
	if *out == "" || o.zones < 10 || o.servers < 2 || o.rounds < 1 {
		log.Fatal("recgen: -out required; -zones >= 10, -servers >= 2, -rounds >= 1")
	}
	dir, err := filepath.Abs(*out)
	check(err)
	generate(dir, o)
}

// generate writes the hierarchy and the workloads of o into dir.
func generate(dir string, o options) {
	seed, nzones, nservers, net, rounds, cold, warmN, firstFrac := &o.seed, &o.zones, &o.servers, &o.net, &o.rounds, &o.cold, &o.warm, &o.first
	g := names.New(*seed)
	r := g.Rand()

	tlds := []string{"com", "net", "org"}
	root := &server{name: "root", addr: *net + ".0.1", zones: []string{"."}}
	tldSrv := map[string]*server{}
	all := []*server{root}
	for i, t := range tlds {
		s := &server{name: t, addr: fmt.Sprintf("%s.1.%d", *net, i+1), zones: []string{t}}
		tldSrv[t] = s
		all = append(all, s)
	}
	hosts := make([]*server, *nservers)
	for i := range hosts {
		hosts[i] = &server{name: fmt.Sprintf("h%02d", i+1), addr: fmt.Sprintf("%s.2.%d", *net, i+1)}
		all = append(all, hosts[i])
	}
	// One provider zone per hosting server pair, under net.
	providers := make([]zone, *nservers)
	for i := range providers {
		z := zone{name: fmt.Sprintf("dnshost%d.net", i+1), servers: [2]int{i, (i + 1) % *nservers}, glue: true}
		z.ns = []string{"ns1." + z.name, "ns2." + z.name}
		providers[i] = z
	}
	seen := map[string]bool{}
	var zones []zone
	for len(zones) < *nzones {
		tld := tlds[pick(r.Float64(), 0.6, 0.8)]
		name := g.Label() + "." + tld
		if seen[name] || strings.HasPrefix(name, "dnshost") {
			continue
		}
		seen[name] = true
		k := r.IntN(*nservers)
		z := zone{name: name, servers: [2]int{k, (k + 1) % *nservers}}
		if r.Float64() < 0.8 {
			z.glue, z.ns = true, []string{"ns1." + name, "ns2." + name}
		} else {
			p := providers[r.IntN(len(providers))]
			z.servers, z.ns = p.servers, p.ns
		}
		zones = append(zones, z)
	}

	// Zone files.
	addrOf := func(z zone, i int) string { return hosts[z.servers[i]].addr }
	zfile := func(s *server, origin string, body func(w *bufio.Writer)) {
		d := filepath.Join(dir, "nsd", s.name)
		check(os.MkdirAll(d, 0o755))
		f, err := os.Create(filepath.Join(d, fileName(origin)))
		check(err)
		w := bufio.NewWriter(f)
		fmt.Fprintf(w, "$ORIGIN %s\n$TTL 3600\n", fqdn(origin))
		fmt.Fprintf(w, "@ SOA a.root.bench. hostmaster.bench. 1 7200 3600 1209600 3600\n")
		body(w)
		check(w.Flush())
		check(f.Close())
	}
	zfile(root, ".", func(w *bufio.Writer) {
		fmt.Fprintf(w, "@ NS a.root.bench.\na.root.bench. A %s\n", root.addr)
		for _, t := range tlds {
			fmt.Fprintf(w, "%s. NS ns.nic.%s.\nns.nic.%s. A %s\n", t, t, t, tldSrv[t].addr)
		}
	})
	// TLD zones: delegations (and glue) of their zones.
	byTLD := map[string][]zone{}
	for _, z := range append(append([]zone(nil), providers...), zones...) {
		t := z.name[strings.LastIndexByte(z.name, '.')+1:]
		byTLD[t] = append(byTLD[t], z)
	}
	for _, t := range tlds {
		zfile(tldSrv[t], t, func(w *bufio.Writer) {
			fmt.Fprintf(w, "@ NS ns.nic.%s.\nns.nic.%s. A %s\n", t, t, tldSrv[t].addr)
			for _, z := range byTLD[t] {
				for i, ns := range z.ns {
					fmt.Fprintf(w, "%s. NS %s.\n", z.name, ns)
					if z.glue {
						fmt.Fprintf(w, "%s. A %s\n", ns, addrOf(z, i))
					}
				}
			}
		})
	}
	for i, z := range append(append([]zone(nil), providers...), zones...) {
		for _, k := range z.servers {
			h := hosts[k]
			h.zones = append(h.zones, z.name)
			zfile(h, z.name, func(w *bufio.Writer) {
				for j, ns := range z.ns {
					fmt.Fprintf(w, "@ NS %s.\n", ns)
					if z.glue {
						fmt.Fprintf(w, "%s. A %s\n", ns, addrOf(z, j))
					}
				}
				a := hostAddr(i)
				fmt.Fprintf(w, "@ A %s\nwww A %s\nmail A %s\n@ MX 10 mail\nalias CNAME www\n* A %s\n", a, a, a, a)
			})
		}
	}
	for _, s := range all {
		writeNSD(dir, s)
	}
	writeLines(filepath.Join(dir, "servers.txt"), func(w *bufio.Writer) {
		for _, s := range all {
			fmt.Fprintf(w, "%s %s %d\n", s.name, s.addr, len(s.zones))
		}
	})
	// Root hints, in zone-file form (Unbound root-hints, PowerDNS hint-file)
	// and as Bulwark's recursion.root_hints entry.
	writeLines(filepath.Join(dir, "root.hints"), func(w *bufio.Writer) {
		fmt.Fprintf(w, ". 3600000 NS a.root.bench.\na.root.bench. 3600000 A %s\n", root.addr)
	})
	writeLines(filepath.Join(dir, "root.addr"), func(w *bufio.Writer) { fmt.Fprintf(w, "a.root.bench %s\n", root.addr) })

	// Workloads. The first-contact zones are the last firstFrac of the
	// list, split over the rounds; the rest is the pool of the others.
	nfirst := int(float64(len(zones)) * *firstFrac)
	pool, first := zones[:len(zones)-nfirst], zones[len(zones)-nfirst:]
	offset := len(providers)
	for rd := 1; rd <= *rounds; rd++ {
		part := first[(rd-1)*len(first) / *rounds : rd*len(first) / *rounds]
		writeLines(filepath.Join(dir, fmt.Sprintf("first_%d.txt", rd)), func(w *bufio.Writer) {
			for _, i := range r.Perm(len(part)) {
				fmt.Fprintf(w, "www.%s. A\n", part[i].name)
			}
		})
		for _, spec := range strings.Split(*cold, ",") {
			wname, n, ok := strings.Cut(spec, ":")
			var lines int
			if _, err := fmt.Sscan(n, &lines); !ok || err != nil {
				log.Fatalf("recgen: -cold %q: want name:lines", spec)
			}
			writeLines(filepath.Join(dir, fmt.Sprintf("cold_%s_%d.txt", wname, rd)), func(w *bufio.Writer) {
				for i := range lines {
					fmt.Fprintf(w, "%s%d-%x.%s. A\n", wname, rd, i, pool[r.IntN(len(pool))].name)
				}
			})
		}
	}
	writeLines(filepath.Join(dir, "warm.txt"), func(w *bufio.Writer) {
		for _, i := range r.Perm(len(pool))[:min(*warmN, len(pool))] {
			fmt.Fprintf(w, "www.%s. A\n", pool[i].name)
		}
	})
	// Checks: a glued zone, a provider-hosted one, a CNAME, a wildcard.
	writeLines(filepath.Join(dir, "checks.txt"), func(w *bufio.Writer) {
		done := map[bool]bool{}
		for i, z := range pool {
			if !done[z.glue] {
				done[z.glue] = true
				a := hostAddr(offset + i)
				fmt.Fprintf(w, "www.%s. A=%s\nalias.%s. A=%s\nrandom-check.%s. A=%s\n", z.name, a, z.name, a, z.name, a)
			}
		}
	})
	log.Printf("recgen: %d servers, %d zones (%d kept for first contact), %d rounds in %s", len(all), len(zones), nfirst, *rounds, dir)
}

// pick returns 0 below a, 1 below b, else 2.
func pick(x, a, b float64) int {
	switch {
	case x < a:
		return 0
	case x < b:
		return 1
	}
	return 2
}

// hostAddr is the address every name of zone i resolves to.
func hostAddr(i int) string { return fmt.Sprintf("198.51.%d.%d", 100+i/250%50, i%250+1) }

func fqdn(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

func fileName(origin string) string {
	if origin == "." {
		return "root.zone"
	}
	return origin + ".zone"
}

// writeNSD writes s's nsd.conf: one server process on s's address, port 53,
// no database, everything under its own directory.
func writeNSD(dir string, s *server) {
	d := filepath.Join(dir, "nsd", s.name)
	check(os.MkdirAll(d, 0o755))
	writeLines(filepath.Join(d, "nsd.conf"), func(w *bufio.Writer) {
		fmt.Fprintf(w, `server:
  ip-address: %s
  port: 53
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "%s"
  database: ""
  zonelistfile: "%s/zone.list"
  xfrdfile: "%s/xfrd.state"
  xfrdir: "%s"
  pidfile: "%s/nsd.pid"
  logfile: "%s/nsd.log"
  verbosity: 0
  hide-version: yes
  minimal-responses: yes
  refuse-any: yes
  reuseport: no
  tcp-count: 200
remote-control:
  control-enable: no
`, s.addr, d, d, d, d, d, d)
		for _, z := range s.zones {
			fmt.Fprintf(w, "zone:\n  name: \"%s\"\n  zonefile: \"%s\"\n", fqdn(z), fileName(z))
		}
	})
}

func writeLines(path string, body func(w *bufio.Writer)) {
	f, err := os.Create(path)
	check(err)
	w := bufio.NewWriter(f)
	body(w)
	check(w.Flush())
	check(f.Close())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
