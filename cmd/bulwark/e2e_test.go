package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

func TestBinaryEndToEndWithDig(t *testing.T) {
	digPath := needDig(t)
	up := dnstest.Start(t, dnstest.WithWildcard())
	up.Add("cloaked.shop.example. 300 IN CNAME c.tracker.example.")
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	cfg := h.forwarding(up.Addr) + `  timeout: 2s
blocklists:
  - name: phishing
    source: "file:lists/phishing.txt"
    category: phishing
  - name: trackers
    source: "file:lists/trackers.txt"
    action: refused
    category: tracking
allowlists:
  - name: exceptions
    source: "file:lists/allow.txt"
log:
  blocked: "blocked.jsonl"
`
	dir := writeFiles(t, map[string]string{
		"bulwark.yaml":       cfg,
		"lists/phishing.txt": "\xef\xbb\xbfevil.example\r\n",
		"lists/trackers.txt": "tracker.example\n",
		"lists/allow.txt":    "good.evil.example\n",
	})
	// Relative paths resolve against the config file's directory, not ours.
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	cfg = strings.Replace(cfg, `"blocked.jsonl"`, `"`+filepath.Join(dir, "blocked.jsonl")+`"`, 1)
	writeFile(t, cfgPath, cfg)
	p := startBulwark(t, admin, "-config", cfgPath)

	runDigCases(t, digPath, port, []digCase{
		{name: "forwarded", args: []string{"www.example.org", "A"}, want: []string{"status: NOERROR", dnstest.WildcardA}},
		{name: "forwarded over TCP", args: []string{"+tcp", "www.example.org", "AAAA"}, want: []string{"status: NOERROR", dnstest.WildcardAAAA}},
		{name: "blocked", args: []string{"evil.example", "A"}, want: []string{"status: NXDOMAIN", "SOA", "EDE: 15 (Blocked)"}},
		{name: "blocked below, any case, TCP", args: []string{"+tcp", "login.EVIL.example", "A"}, want: []string{"status: NXDOMAIN"}},
		{name: "allowed", args: []string{"good.evil.example", "A"}, want: []string{"status: NOERROR", dnstest.WildcardA}},
		{name: "refused list", args: []string{"x.tracker.example", "A"}, want: []string{"status: REFUSED"}},
		{name: "CNAME cloaking", args: []string{"cloaked.shop.example", "A"}, want: []string{"status: REFUSED"}},
	})

	wantMetrics(t, admin,
		`bulwark_blocked_total{action="nxdomain",category="phishing",list="phishing"} 2`,
		`bulwark_blocked_total{action="refused",category="tracking",list="trackers"} 2`,
		`bulwark_queries_total{proto="tcp",qtype="A"} 1`,
		`bulwark_feed_entries{feed="phishing"} 1`,
		`bulwark_request_duration_seconds_count`,
		`bulwark_upstream_requests_total`)

	// SIGTERM: a clean exit.
	p.stop(t, syscall.SIGTERM)

	// The block log: one JSON object per blocked query, flushed on exit.
	f, err := os.Open(filepath.Join(dir, "blocked.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("block log line %q: %v", sc.Text(), err)
		}
		events = append(events, ev)
	}
	if len(events) != 4 {
		t.Fatalf("block log has %d lines, want 4", len(events))
	}
	first := events[0]
	for k, v := range map[string]any{"client": "127.0.0.1", "protocol": "udp", "qname": "evil.example", "qtype": "A",
		"list": "phishing", "rule": "evil.example", "action": "nxdomain", "category": "phishing"} {
		if first[k] != v {
			t.Errorf("first block event %s = %v, want %v (event %v)", k, first[k], v, first)
		}
	}
	if _, ok := first["time"]; !ok {
		t.Error("block event has no time")
	}
	if events[1]["qname"] != "login.evil.example" || events[1]["protocol"] != "tcp" {
		t.Errorf("second event %v", events[1])
	}
	if events[3]["cname"] != "c.tracker.example" {
		t.Errorf("cloaking event %v lacks the cname", events[3])
	}
}

// TestBinaryDefaultConfig starts bulwark with no flags, as the README's first
// command does, and asks only for blocked names: they are answered locally,
// so no query leaves the machine.
func TestBinaryDefaultConfig(t *testing.T) {
	digPath := needDig(t)
	for _, addr := range []string{"127.0.0.1:5300", "127.0.0.1:9153"} {
		if l, err := net.Listen("tcp", addr); err != nil {
			t.Skipf("default address %s busy: %v", addr, err)
		} else {
			l.Close()
		}
	}
	p := startBulwark(t, "127.0.0.1:9153")
	out := dig(t, digPath, 5300, "5k-gift.website", "A")
	if !strings.Contains(out, "status: NXDOMAIN") || !strings.Contains(out, "EDE: 15 (Blocked)") {
		t.Errorf("bundled phishing name not blocked:\n%s", out)
	}
	out2, err := exec.Command(digPath, "@::1", "-p", "5300", "+tries=1", "+time=5", "www.5k-gift.website", "AAAA").CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "status: NXDOMAIN") {
		t.Errorf("over [::1]: %v\n%s", err, out2)
	}
	p.stop(t, syscall.SIGINT)
}
