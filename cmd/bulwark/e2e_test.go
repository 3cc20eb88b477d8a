package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/internal/syncbuf"
)

// buildBinary builds cmd/bulwark once per test run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func bulwarkBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bulwark-e2e")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "bulwark")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1.
func freePort(t testing.TB) int { return dnstest.FreePort(t) }

// process is a running bulwark binary.
type process struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan error
}

// lockedBuffer collects a process's output for the test to read.
type lockedBuffer = syncbuf.Buffer

func startBulwark(t *testing.T, adminAddr string, args ...string) *process {
	t.Helper()
	return startBulwarkEnv(t, adminAddr, nil, args...)
}

// startBulwarkEnv is startBulwark with env added to the environment.
func startBulwarkEnv(t *testing.T, adminAddr string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bulwarkBinary(t), args...), stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("bulwark output:\n%s", p.stderr.String())
		}
	})
	// Ready once /readyz says so.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := readyz(adminAddr); code == http.StatusOK {
			return p
		}
		select {
		case err := <-p.exited:
			t.Fatalf("bulwark exited early: %v\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulwark not ready after 20s\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and fails the test unless the process exits cleanly
// (status 0) within 10 s: the graceful shutdown every signal test checks.
func (p *process) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after %v: %v\n%s", sig, err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit 10s after %v", sig)
	}
}

func dig(t *testing.T, digPath string, port int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	all := append([]string{"@127.0.0.1", "-p", fmt.Sprint(port), "+tries=1", "+time=5"}, args...)
	out, err := exec.CommandContext(ctx, digPath, all...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestBinaryEndToEndWithDig(t *testing.T) {
	digPath := need.Tool(t, "dig", "bind9-dnsutils")
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
	digPath := need.Tool(t, "dig", "bind9-dnsutils")
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
