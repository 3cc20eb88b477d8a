package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// TestRecursiveRPZServerTriggers runs serve in recursive mode over a
// simulated hierarchy with an RPZ zone holding rpz-nsdname and rpz-nsip
// triggers: names whose zone is served by a listed server name or
// address are blocked, on the first (resolved) and the second (cached)
// query alike; names served elsewhere resolve; a zone's earlier passthru
// wins over a later zone's server trigger. The servers of the zones of
// CNAME targets count as the query name's do.
func TestRecursiveRPZServerTriggers(t *testing.T) {
	const root, tld, good, evilNS, badIP = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"
	h := dnstest.StartHierarchy(t, root, tld, good, evilNS, badIP)
	addRoot(h, root,
		"test. 172800 IN NS ns.nic.test.",
		"ns.nic.test. 172800 IN A "+tld,
	)
	h.Server(tld).AddZone("test.",
		"good.test. 86400 IN NS ns1.good.test.", "ns1.good.test. 86400 IN A "+good,
		"evil.test. 86400 IN NS ns.evilns.test.", "ns.evilns.test. 86400 IN A "+evilNS,
		"badip.test. 86400 IN NS ns1.badip.test.", "ns1.badip.test. 86400 IN A "+badIP,
		"spared.test. 86400 IN NS ns.evilns.test.",
	)
	h.Server(good).AddZone("good.test.", "www.good.test. 300 IN A 192.0.2.1",
		// CNAMEs into zones served by a listed server (name, address).
		"alias.good.test. 300 IN CNAME www.evil.test.", "alias2.good.test. 300 IN CNAME www.badip.test.")
	h.Server(evilNS).AddZone("evil.test.", "www.evil.test. 300 IN A 192.0.2.2", "www2.evil.test. 300 IN A 192.0.2.22")
	h.Server(evilNS).AddZone("spared.test.", "www.spared.test. 300 IN A 192.0.2.4")
	h.Server(badIP).AddZone("badip.test.", "www.badip.test. 300 IN A 192.0.2.3")

	host := newE2EHost(t)
	port, admin := host.port, host.admin
	dir := writeFiles(t, map[string]string{
		"first.rpz": "$ORIGIN first.rpz.\n@ SOA ns. admin. 1 2 3 4 5\nwww.spared.test CNAME rpz-passthru.\n",
		"second.rpz": "$ORIGIN second.rpz.\n@ SOA ns. admin. 1 2 3 4 5\nns.evilns.test.rpz-nsdname CNAME .\n32.6.0.0.127.rpz-nsip CNAME *.\n" +
			"32.22.2.0.192.rpz-ip CNAME *.\n",
	})
	cfg := host.recursive(root, h.Port, fmt.Sprintf(`blocklists:
  - name: first
    source: "file:first.rpz"
  - name: second
    source: "file:second.rpz"
log:
  blocked: "%s"
`, filepath.Join(dir, "blocked.jsonl")))
	writeFile(t, filepath.Join(dir, "bulwark.yaml"), cfg)
	p := serveInProcess(t, filepath.Join(dir, "bulwark.yaml"))
	waitReady(t, admin, "bulwark ready")
	for _, tc := range []struct {
		name    string
		rcode   int
		answers int
	}{
		{"www.good.test", dns.RcodeSuccess, 1},
		{"www.evil.test", dns.RcodeNameError, 0},   // rpz-nsdname: its zone's server is listed
		{"www.badip.test", dns.RcodeSuccess, 0},    // rpz-nsip, CNAME *.: NODATA
		{"www.spared.test", dns.RcodeSuccess, 1},   // the first zone's passthru beats the second's nsdname
		{"www2.evil.test", dns.RcodeSuccess, 0},    // rpz-ip (NODATA) ranks above rpz-nsdname (NXDOMAIN) in one zone
		{"alias.good.test", dns.RcodeNameError, 0}, // the CNAME target's zone has the listed server name
		{"alias2.good.test", dns.RcodeSuccess, 0},  // the CNAME target's zone has the listed server address
	} {
		for _, pass := range []string{"resolved", "cached"} {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(tc.name), dns.TypeA)
			c := &dns.Client{Timeout: 5 * time.Second}
			r, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatalf("%s (%s): %v\n%s", tc.name, pass, err, p.stderr.String())
			}
			if r.Rcode != tc.rcode || len(r.Answer) != tc.answers {
				t.Errorf("%s (%s): %s with %d answers, want %s with %d", tc.name, pass, dns.RcodeToString[r.Rcode], len(r.Answer),
					dns.RcodeToString[tc.rcode], tc.answers)
			}
		}
	}
	p.stop(t)
	b := testfile.Read(t, filepath.Join(dir, "blocked.jsonl"))
	log := string(b)
	for _, want := range []string{`"trigger":"rpz-nsdname"`, `"rule":"ns.evilns.test"`, `"trigger":"rpz-nsip"`, `"rule":"127.0.0.6/32"`} {
		if !strings.Contains(log, want) {
			t.Errorf("block log lacks %s:\n%s", want, log)
		}
	}
}
