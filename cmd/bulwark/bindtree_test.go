package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/internal/proctest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// A signed DNS hierarchy served by BIND on loopback, built by the test:
// keys from dnssec-keygen, zones signed by dnssec-signzone, served by one
// named on 127.0.0.1 and a free port. (named listens only on addresses
// configured on an interface, so the root, the TLD and the zones below
// cannot each have their own 127.0.0.x without changing the host; one
// server holding every level still makes the resolver fetch each level's
// DS and DNSKEY, and answers DS from the parent side as it must.)

// bindZone is one zone of the tree.
type bindZone struct {
	origin  string
	server  int      // which NS host (root, TLD or zone server) the zone names
	records []string // besides SOA and NS
	sign    string   // "" (unsigned), "nsec", "nsec3", "optout"
	alg     string   // key algorithm; default ECDSAP256SHA256
	iter    int      // NSEC3 iterations
	start   time.Time
	end     time.Time // signature validity; zero: an hour ago to 30 days ahead
	kskRoll bool      // two KSKs, both with DS, only the second signing
	// after edits the signed zone file (one record per line).
	after func(lines []string) []string
	// ds edits the DS records the parent publishes.
	ds func(ds []string) []string

	dsRecords []string
}

type bindTree struct {
	dir    string
	ips    []string
	port   int
	anchor string // file holding the root's DS
	zones  []string
}

func runTool(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startBindTree signs zones (children before parents, so each parent gets
// its children's DS) and serves them.
// build gets the servers' addresses (root, TLD, zones) to put in glue.
func startBindTree(t testing.TB, build func(ips []string) []*bindZone) *bindTree {
	t.Helper()
	need.Tool(t, "named", "bind9")
	for _, tool := range []string{"dnssec-keygen", "dnssec-signzone", "dnssec-dsfromkey", "dnssec-settime"} {
		need.Tool(t, tool, "bind9-utils")
	}
	ips := []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
	bt := &bindTree{dir: t.TempDir(), ips: ips, port: freePort(t)}
	zones := build(ips)
	for _, z := range zones {
		bt.zones = append(bt.zones, z.origin)
	}
	byOrigin := map[string]*bindZone{}
	for _, z := range zones {
		byOrigin[z.origin] = z
	}
	// Deepest zones first.
	order := append([]*bindZone(nil), zones...)
	for i := range order {
		for j := i + 1; j < len(order); j++ {
			if dns.CountLabel(order[j].origin) > dns.CountLabel(order[i].origin) {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	for _, z := range order {
		file := bt.zoneFile(z)
		var recs []string
		for _, c := range zones {
			if c != z && dns.CountLabel(c.origin) == dns.CountLabel(z.origin)+1 && dns.IsSubDomain(z.origin, c.origin) {
				recs = append(recs, c.dsRecords...)
			}
		}
		soa := fmt.Sprintf("%s 3600 IN SOA %s hostmaster.%s 1 3600 600 86400 300", z.origin, bt.nsName(z.server), strings.TrimPrefix(z.origin, "."))
		body := []string{"$ORIGIN " + z.origin, "$TTL 3600", soa, z.origin + " 3600 IN NS " + bt.nsName(z.server)}
		body = append(body, z.records...)
		body = append(body, recs...)
		writeFile(t, file, strings.Join(body, "\n")+"\n")
		if z.sign == "" {
			continue
		}
		bt.signZone(t, z, file)
		if z.origin == "." {
			bt.anchor = filepath.Join(bt.dir, "root.ds")
			writeFile(t, bt.anchor, strings.Join(z.dsRecords, "\n")+"\n")
		}
	}
	bt.startNamed(t, zones)
	return bt
}

// nsName is the name server host of server i (its address is in the
// root or TLD zone, see standardTree).
func (bt *bindTree) nsName(i int) string {
	return []string{"a.root-servers.test.", "ns1.test.", "ns2.test."}[i]
}

func (bt *bindTree) zoneFile(z *bindZone) string {
	name := strings.TrimSuffix(z.origin, ".")
	if name == "" {
		name = "root"
	}
	return filepath.Join(bt.dir, name+".zone")
}

func (bt *bindTree) signZone(t testing.TB, z *bindZone, file string) {
	t.Helper()
	kdir := filepath.Join(bt.dir, "keys-"+filepath.Base(file))
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		t.Fatal(err)
	}
	alg := z.alg
	if alg == "" {
		alg = "ECDSAP256SHA256"
	}
	ksk := strings.TrimSpace(runTool(t, kdir, "dnssec-keygen", "-q", "-K", kdir, "-a", alg, "-f", "KSK", z.origin))
	ksks := []string{ksk}
	if z.kskRoll {
		// The old KSK stays published (and in the DS set) but no longer
		// signs: the middle of a double-DS rollover.
		old := strings.TrimSpace(runTool(t, kdir, "dnssec-keygen", "-q", "-K", kdir, "-a", alg, "-f", "KSK", z.origin))
		runTool(t, kdir, "dnssec-settime", "-K", kdir, "-I", "now", old)
		ksks = append(ksks, old)
	}
	runTool(t, kdir, "dnssec-keygen", "-q", "-K", kdir, "-a", alg, z.origin)
	var ds []string
	for _, k := range ksks {
		ds = append(ds, strings.TrimSpace(runTool(t, kdir, "dnssec-dsfromkey", "-2", filepath.Join(kdir, k+".key"))))
	}
	if z.ds != nil {
		ds = z.ds(ds)
	}
	z.dsRecords = ds
	start, end := z.start, z.end
	if start.IsZero() {
		start, end = time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour)
	}
	ts := func(t time.Time) string { return t.UTC().Format("20060102150405") }
	args := []string{"-S", "-K", kdir, "-d", kdir, "-o", z.origin, "-O", "full", "-P", "-f", file + ".signed",
		"-s", ts(start), "-e", ts(end)}
	switch z.sign {
	case "nsec3", "optout":
		args = append(args, "-3", "AABBCCDD", "-H", fmt.Sprint(z.iter))
		if z.sign == "optout" {
			args = append(args, "-A")
		}
	}
	runTool(t, kdir, "dnssec-signzone", append(args, file)...)
	if z.after != nil {
		b := testfile.Read(t, file+".signed")
		lines := z.after(strings.Split(string(b), "\n"))
		writeFile(t, file+".signed", strings.Join(lines, "\n"))
	}
}

func (bt *bindTree) startNamed(t testing.TB, zones []*bindZone) {
	t.Helper()
	dir := filepath.Join(bt.dir, "named")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `options {
	directory "%s";
	pid-file "%s/named.pid";
	listen-on port %d { %s; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	allow-query { any; };
	minimal-responses no;
};
controls { };
`, dir, dir, bt.port, bt.ips[0])
	for _, z := range zones {
		file := bt.zoneFile(z)
		if z.sign != "" {
			file += ".signed"
		}
		fmt.Fprintf(&conf, "zone %q { type primary; file %q; };\n", z.origin, file)
	}
	cfgFile := filepath.Join(dir, "named.conf")
	writeFile(t, cfgFile, conf.String())
	// Ready when it answers for the root.
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeSOA)
	addr := net.JoinHostPort(bt.ips[0], fmt.Sprint(bt.port))
	startDaemon(t, "named", []string{"-g", "-n", "1", "-c", cfgFile}, func() bool {
		r, _, err := c.ExchangeContext(context.Background(), m, addr)
		return err == nil && r.Rcode == dns.RcodeSuccess
	})
}

// startDaemon runs a server in the foreground until the test ends, and
// waits until ready reports true; its log is shown if the test fails.
func startDaemon(t testing.TB, name string, args []string, ready func() bool) {
	t.Helper()
	proctest.Start(t, exec.Command(name, args...), 10*time.Second, ready)
}

// standardTree is the hierarchy the DNSSEC end-to-end tests share: every
// case of the issue is a zone below test.
func standardTree(t *testing.T) *bindTree {
	return startBindTree(t, standardZones)
}

func standardZones(ips []string) []*bindZone {
	rootIP, tldIP, zoneIP := ips[0], ips[1], ips[2]
	now := time.Now()
	zones := []*bindZone{
		{origin: ".", server: 0, sign: "nsec", alg: "RSASHA256", records: []string{
			"a.root-servers.test. 3600 IN A " + rootIP, "test. 3600 IN NS ns1.test.", "ns1.test. 3600 IN A " + tldIP}},
		{origin: "test.", server: 1, sign: "nsec", records: []string{
			"ns1.test. 3600 IN A " + tldIP, "ns2.test. 3600 IN A " + zoneIP,
			"a.root-servers.test. 3600 IN A " + rootIP}},
		{origin: "secure.test.", server: 2, sign: "nsec", records: []string{
			"www 300 IN A 192.0.2.1", "*.wild 300 IN A 192.0.2.9", "a.b.c 300 IN TXT deep",
			"cname 300 IN CNAME www.nsec3.test.", "blocked 300 IN A 192.0.2.99"}},
		{origin: "nsec3.test.", server: 2, sign: "nsec3", records: []string{
			"www 300 IN A 192.0.2.2", "*.wild 300 IN A 192.0.2.10", "a.b.c 300 IN TXT deep"}},
		{origin: "optout.test.", server: 2, sign: "optout", records: []string{
			"www 300 IN A 192.0.2.3", "child 3600 IN NS ns1.test."}},
		{origin: "child.optout.test.", server: 1, records: []string{"www 300 IN A 192.0.2.4"}},
		{origin: "insecure.test.", server: 2, records: []string{"www 300 IN A 192.0.2.5"}},
		{origin: "bogus.test.", server: 2, sign: "nsec", records: []string{"www 300 IN A 192.0.2.6"},
			after: func(lines []string) []string {
				for i, l := range lines {
					if strings.HasPrefix(l, "www.bogus.test.") && strings.HasSuffix(l, "\t192.0.2.6") {
						lines[i] = strings.TrimSuffix(l, "192.0.2.6") + "203.0.113.66" // forged after signing
					}
				}
				return lines
			}},
		{origin: "expired.test.", server: 2, sign: "nsec", records: []string{"www 300 IN A 192.0.2.7"},
			start: now.Add(-60 * 24 * time.Hour), end: now.Add(-24 * time.Hour)},
		{origin: "future.test.", server: 2, sign: "nsec", records: []string{"www 300 IN A 192.0.2.8"},
			start: now.Add(24 * time.Hour), end: now.Add(60 * 24 * time.Hour)},
		{origin: "nokey.test.", server: 2, sign: "nsec", records: []string{"www 300 IN A 192.0.2.11"},
			after: func(lines []string) []string {
				var out []string
				for _, l := range lines {
					if f := strings.Fields(l); len(f) >= 5 && (f[3] == "DNSKEY" || f[3] == "RRSIG" && f[4] == "DNSKEY") {
						continue
					}
					out = append(out, l)
				}
				return out
			}},
		{origin: "badds.test.", server: 2, sign: "nsec", records: []string{"www 300 IN A 192.0.2.12"},
			ds: func(ds []string) []string {
				for i, d := range ds {
					f := strings.Fields(d)
					f[len(f)-1] = strings.Repeat("0", len(f[len(f)-1]))
					ds[i] = strings.Join(f, " ")
				}
				return ds
			}},
		{origin: "unsupported.test.", server: 2, sign: "nsec", alg: "ED448", records: []string{"www 300 IN A 192.0.2.13"}},
		{origin: "rollover.test.", server: 2, sign: "nsec", kskRoll: true, records: []string{"www 300 IN A 192.0.2.14"}},
		{origin: "iter.test.", server: 2, sign: "nsec3", iter: 20, records: []string{"www 300 IN A 192.0.2.15"}},
	}
	for _, z := range zones {
		if dns.CountLabel(z.origin) == 2 {
			zones[1].records = append(zones[1].records, z.origin+" 3600 IN NS ns2.test.")
		}
	}
	return zones
}
