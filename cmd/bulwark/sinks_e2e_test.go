package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// syslogReceiver reads octet-counted RFC 5424 messages (RFC 6587) from
// TCP connections, as a SIEM's syslog input does.
type syslogReceiver struct {
	ln    net.Listener
	mu    sync.Mutex
	msgs  []string
	conns int // connections accepted
}

func startSyslogReceiver(t *testing.T) *syslogReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &syslogReceiver{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					n, err := br.ReadString(' ')
					if err != nil {
						return
					}
					size, err := strconv.Atoi(strings.TrimSpace(n))
					if err != nil || size <= 0 || size > 1<<20 {
						return
					}
					msg := make([]byte, size)
					if _, err := io.ReadFull(br, msg); err != nil {
						return
					}
					r.mu.Lock()
					r.msgs = append(r.msgs, string(msg))
					r.mu.Unlock()
				}
			}()
		}
	}()
	return r
}

func (r *syslogReceiver) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// logTest is where the log tests start: a wildcard upstream, free DNS and
// admin ports, a directory holding lists/phishing.txt (evil.example), and
// the head of a config over them (listen, upstream, the phishing list).
type logTest struct {
	port       int
	admin, dir string
	head       string
}

func newLogTest(t *testing.T) *logTest {
	t.Helper()
	up := dnstest.Start(t, dnstest.WithWildcard())
	h := newE2EHost(t)
	lt := &logTest{port: h.port, admin: h.admin,
		dir: writeFiles(t, map[string]string{"lists/phishing.txt": "evil.example\n"})}
	lt.head = h.forwarding(up.Addr) + `blocklists:
  - name: phishing
    source: "file:lists/phishing.txt"
`
	return lt
}

// TestBinaryLogSinks runs the binary with the block log to a file and to a
// syslog receiver (log.blocked as a URL is the file's alternative; here the
// receiver is a log.sinks entry beside the file), and the query log to an
// HTTP collector only (queries: off, one sink): each destination gets its
// records.
func TestBinaryLogSinks(t *testing.T) {
	digPath := needDig(t)
	lt := newLogTest(t)
	port, admin, dir := lt.port, lt.admin, lt.dir
	syslog := startSyslogReceiver(t)
	col := startCollector(t)

	blocked := filepath.Join(dir, "blocked.jsonl")
	cfg := lt.head + fmt.Sprintf(`log:
  blocked: %q
  queries: "off"
  sinks:
    - name: siem
      url: "syslog+tcp://%s"
      syslog: {hostname: ns1}
    - name: collector
      log: queries
      url: %q
      http: {batch_delay: 50ms}
`, blocked, syslog.ln.Addr(), col.url)
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, cfg)
	p := startBulwark(t, admin, "-config", cfgPath)
	dig(t, digPath, port, "a.evil.example", "A")
	dig(t, digPath, port, "www.example.org", "A")
	waitLines(t, blocked, 1)
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		n := strings.Count(col.all(), "\n")
		if len(syslog.messages()) >= 1 && n >= 2 {
			break
		}
	}
	p.stop(t, syscall.SIGTERM)

	msgs := syslog.messages()
	if len(msgs) != 1 {
		t.Fatalf("syslog received %d messages, want the 1 block: %q", len(msgs), msgs)
	}
	line, _ := os.ReadFile(blocked)
	m := msgs[0]
	for _, want := range []string{"<133>1 ", " ns1 bulwark ", " block [bulwark@32473 ", `qname="a.evil.example"`, `list="phishing"`, string(bytes.TrimSpace(line))} {
		if !strings.Contains(m, want) {
			t.Errorf("syslog message lacks %q:\n%s", want, m)
		}
	}
	all := col.all()
	for _, want := range []string{`"qname":"a.evil.example"`, `"qname":"www.example.org"`} {
		if !strings.Contains(all, want) {
			t.Errorf("the HTTP collector lacks the query record %s:\n%s", want, all)
		}
	}
}

// TestReloadForgetsRemovedSinks reloads the binary with one sink of each
// log removed: their series leave /metrics (a removed sink must not stay on
// the dashboard as down, or fire BulwarkLogSinkDown), the kept sinks'
// series stay.
func TestReloadForgetsRemovedSinks(t *testing.T) {
	lt := newLogTest(t)
	admin, dir := lt.admin, lt.dir
	receiver, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer receiver.Close()
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	write := func(sinks ...string) {
		t.Helper()
		cfg := lt.head + `log:
  blocked: "off"
  sinks:
`
		for _, s := range sinks {
			name, log, _ := strings.Cut(s, ":")
			cfg += fmt.Sprintf("    - {name: %s, log: %s, url: \"syslog+udp://%s\"}\n", name, log, receiver.LocalAddr())
		}
		writeFile(t, cfgPath, cfg)
	}
	write("siem:blocked", "old-siem:blocked", "collector:queries", "old-collector:queries")
	startBulwark(t, admin, "-config", cfgPath)
	series := func(sink string) string { return `bulwark_log_sink_sent_total{sink="` + sink + `"}` }
	for _, s := range []string{"siem", "old-siem", "collector", "old-collector"} {
		if v := scrape(t, admin, series(s)); v < 0 {
			t.Fatalf("before the reload, %s is not exported", series(s))
		}
	}

	write("siem:blocked", "collector:queries")
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	_, body := adminGet(t, admin, "/metrics")
	for _, gone := range []string{`sink="old-siem"`, `sink="old-collector"`} {
		if strings.Contains(body, gone) {
			t.Errorf("after the reload /metrics still has series of the removed sink %s", gone)
		}
	}
	for _, kept := range []string{"siem", "collector"} {
		for _, name := range []string{"bulwark_log_sink_sent_total", "bulwark_log_sink_up", "bulwark_log_sink_queued"} {
			if !strings.Contains(body, name+`{sink="`+kept+`"}`) {
				t.Errorf("after the reload %s{sink=%q} is gone; the sink is still configured", name, kept)
			}
		}
	}
}
