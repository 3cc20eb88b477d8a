package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// TestBinaryRecursiveEndToEnd runs the binary with upstream.mode: recursive
// against a simulated hierarchy on loopback (root, two TLDs, two zones, each
// its own 127.0.0.x server), and drives it with dig: answers, CNAME chains
// across zones, negative answers, TCP, the blocklist applied to a CNAME
// target met during recursion, the cache in front, QNAME minimisation as
// the servers saw it, and the recursion metrics.
func TestBinaryRecursiveEndToEnd(t *testing.T) {
	digPath := needDig(t)
	const root, tldTest, tldExample, zone, tracker = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"
	h := dnstest.StartHierarchy(t, root, tldTest, tldExample, zone, tracker)
	addRoot(h, root,
		"test. 172800 IN NS ns.nic.test.",
		"ns.nic.test. 172800 IN A "+tldTest,
		"example. 172800 IN NS ns.nic.example.",
		"ns.nic.example. 172800 IN A "+tldExample,
	)
	h.Server(tldTest).AddZone("test.",
		"example.test. 86400 IN NS ns1.example.test.",
		"ns1.example.test. 86400 IN A "+zone,
		"shop.test. 86400 IN NS ns.tracker.example.", // glue-less: another TLD
	)
	h.Server(tldExample).AddZone("example.",
		"tracker.example. 86400 IN NS ns.tracker.example.",
		"ns.tracker.example. 86400 IN A "+tracker,
	)
	h.Server(zone).AddZone("example.test.",
		"www.example.test. 300 IN A 192.0.2.1",
		"alias.example.test. 300 IN CNAME www.shop.test.",
	)
	trk := h.Server(tracker)
	trk.AddZone("tracker.example.", "c.tracker.example. 300 IN A 192.0.2.66", "ns.tracker.example. 300 IN A "+tracker)
	trk.AddZone("shop.test.",
		"www.shop.test. 300 IN A 192.0.2.8",
		"cloaked.shop.test. 300 IN CNAME c.tracker.example.",
	)

	host := newE2EHost(t)
	port, admin := host.port, host.admin
	dir := writeFiles(t, map[string]string{"lists/trackers.txt": "tracker.example\n"})
	cfg := host.recursive(root, h.Port, fmt.Sprintf(`blocklists:
  - name: trackers
    source: "file:lists/trackers.txt"
    category: tracking
log:
  blocked: "%s"
`, filepath.Join(dir, "blocked.jsonl")))
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, cfg)
	p := startBulwark(t, admin, "-config", cfgPath)

	checks := []struct {
		args []string
		want []string
	}{
		{[]string{"www.example.test", "A"}, []string{"status: NOERROR", "A\t192.0.2.1"}},
		{[]string{"+tcp", "alias.example.test", "A"}, []string{"status: NOERROR", "CNAME\twww.shop.test.", "A\t192.0.2.8"}},
		{[]string{"nope.example.test", "A"}, []string{"status: NXDOMAIN", "AUTHORITY: 1", "IN\tSOA\tns.example.test."}},
		{[]string{"www.example.test", "MX"}, []string{"status: NOERROR", "ANSWER: 0", "AUTHORITY: 1"}},
		{[]string{"cloaked.shop.test", "A"}, []string{"status: NXDOMAIN", "EDE: 15 (Blocked)"}},
	}
	for _, c := range checks {
		out := dig(t, digPath, port, c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("dig %v: output lacks %q:\n%s", c.args, w, out)
			}
		}
	}

	// QNAME minimisation, as the servers saw it: the root learned only the
	// TLDs, and no server saw a name below the zone it serves.
	for _, s := range h.Queries() {
		labels := dns.CountLabel(s.Name)
		if s.Server == root && labels > 1 || (s.Server == tldTest || s.Server == tldExample) && labels > 2 {
			t.Errorf("%v: more of the name than the server needs", s)
		}
		if s.RD {
			t.Errorf("%v: recursion desired sent to an authoritative server", s)
		}
	}
	// The cache sits in front: asking again sends nothing.
	before := h.Count()
	dig(t, digPath, port, "www.example.test", "A")
	if n := h.Count(); n != before {
		t.Errorf("a cached answer cost %d upstream queries", n-before)
	}

	wantMetrics(t, admin,
		"bulwark_recursion_upstream_queries_count",
		"bulwark_recursion_depth_bucket",
		`bulwark_recursion_exchanges_total{result="reply"}`,
		"bulwark_recursion_server_timeouts_total",
		`bulwark_blocked_total{action="nxdomain",category="tracking",list="trackers"} 1`,
	)

	p.stop(t, syscall.SIGTERM)
	log := testfile.Read(t, filepath.Join(dir, "blocked.jsonl"))
	if !strings.Contains(string(log), `"cname":"c.tracker.example"`) || !strings.Contains(string(log), `"qname":"cloaked.shop.test"`) {
		t.Errorf("block log %s lacks the cloaked CNAME", log)
	}
}

// TestCheckRecursionSection: `bulwark check` validates the recursion,
// dnssec and testing sections of a recursive config, pointing at the line of each
// mistake.
func TestCheckRecursionSection(t *testing.T) {
	const base = `listen:
  dns: ["127.0.0.1:5300"]
upstream:
  mode: recursive
blocklists:
  - name: phishing
    source: "file:lists/phishing.txt"
`
	tests := []struct {
		name    string
		section string
		code    int
		want    []string
	}{
		{"defaults", "", 0, nil},
		{"tuned", "recursion:\n  ipv6: false\n  qname_minimisation: true\n  max_queries: 40\n  root_hints: [\"a.root-servers.net 198.41.0.4\"]\n", 0, nil},
		{"mistakes", "recursion:\n  root_hints: [\"localhost\", \"127.0.0.1\"]\n  max_queries: 0\n  timeout: -1s\n", 1,
			[]string{"bulwark.yaml:9: recursion.root_hints[0]", "recursion.root_hints[1]: 127.0.0.1 is a loopback address",
				"bulwark.yaml:10: recursion.max_queries", "bulwark.yaml:11: recursion.timeout"}},
		{"unknown key", "recursion:\n  max_query: 3\n", 1, []string{"bulwark.yaml:9:", "max_query"}},
		{"glue and minimisation type", "recursion:\n  harden_glue: false\n  qname_minimisation_type: NS\n", 0, nil},
		{"minimisation type unknown", "recursion:\n  harden_glue: true\n  qname_minimisation_type: AAAA\n", 1,
			[]string{"bulwark.yaml:10: recursion.qname_minimisation_type: must be A or NS"}},
		{"clock file missing", "testing:\n  clock_file: /nonexistent/faketime\n", 1,
			[]string{"bulwark.yaml:9: testing.clock_file: open /nonexistent/faketime"}},
		{"dnssec tuned", "dnssec:\n  validate: true\n  negative_trust_anchors: [broken.example]\n  bogus_ttl: 30s\n  aggressive_nsec: false\n", 0, nil},
		{"dnssec mistakes", "dnssec:\n  trust_anchor_file: /nonexistent/anchors\n  override_date: yesterday\n  negative_trust_anchors: [\"a..b\"]\n", 1,
			[]string{"bulwark.yaml:9: dnssec.trust_anchor_file", "bulwark.yaml:10: dnssec.override_date", "bulwark.yaml:11: dnssec.negative_trust_anchors[0]"}},
		{"dnssec unknown key", "dnssec:\n  validation: true\n", 1, []string{"bulwark.yaml:9:", "validation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"bulwark.yaml": base + tt.section, "lists/phishing.txt": "evil.example\n"})
			code, out, errs := runCmd(t, "check", "-config", filepath.Join(dir, "bulwark.yaml"))
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}
