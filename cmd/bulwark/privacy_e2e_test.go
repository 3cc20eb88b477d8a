package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dnstappb "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"

	"github.com/bulwark-dns/bulwark/internal/dnstaptest"
)

// TestBinaryClientPrivacy runs the binary once per `log.client` mode with
// every output on: the block log and the query log in files, a syslog
// receiver and an HTTP collector behind them, dnstap, /stats and /metrics.
// Queries come from 127.0.0.77; its address may appear in no output except
// under full, and each output holds what the README's Privacy table says.
func TestBinaryClientPrivacy(t *testing.T) {
	digPath := needDig(t)
	const client = "127.0.0.77"
	tests := []struct {
		mode string
		// logClient is what the logs hold: a `"client":...` member or,
		// with omit, none.
		logClient string
		// tapAddr is dnstap's query_address ("" for none); tapPort
		// whether query_port is sent.
		tapAddr string
		tapPort bool
	}{
		{"full", `"client":"127.0.0.77"`, client, true},
		{"truncate", `"client":"127.0.0.0/24"`, "127.0.0.0", false},
		{"hash", `"client":"hmac:`, "", false},
		{"omit", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			lt := newLogTest(t)
			port, admin, dir := lt.port, lt.admin, lt.dir
			syslog := startSyslogReceiver(t)
			coll := startCollector(t)
			tap := dnstaptest.New(t, "unix").Start()
			if err := os.WriteFile(filepath.Join(dir, "client.key"), []byte("a secret of at least sixteen bytes\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			blocked, queries := filepath.Join(dir, "blocked.jsonl"), filepath.Join(dir, "queries.jsonl")
			key := ""
			if tt.mode == "hash" {
				key = fmt.Sprintf("  hash_key_file: %q\n", filepath.Join(dir, "client.key"))
			}
			cfg := lt.head + fmt.Sprintf(`log:
  blocked: %q
  queries: %q
  client: %s
%s  sinks:
    - {name: siem, url: "syslog+tcp://%s"}
    - {name: collector, log: queries, url: %q, http: {batch_delay: 50ms}}
dnstap:
  socket: %q
tenants:
  - name: council-a
    clients: ["10.9.0.0/16"]
    log: {client: omit}
`, blocked, queries, tt.mode, key, syslog.ln.Addr(), coll.url, tap.Socket())
			cfgPath := filepath.Join(dir, "bulwark.yaml")
			writeFile(t, cfgPath, cfg)
			p := startBulwark(t, admin, "-config", cfgPath)
			dig(t, digPath, port, "-b", client, "a.evil.example", "A")
			dig(t, digPath, port, "-b", client, "+tcp", "b.evil.example", "A")
			dig(t, digPath, port, "-b", client, "www.example.org", "A")
			waitLines(t, blocked, 2)
			waitLines(t, queries, 3)
			for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if len(syslog.messages()) >= 2 && strings.Count(coll.all(), "\n") >= 3 {
					break
				}
			}
			var frames []*dnstappb.Message
			for _, f := range nextFrames(t, tap, 6) {
				frames = append(frames, f.GetMessage())
			}
			_, stats := adminGet(t, admin, "/stats")
			_, metrics := adminGet(t, admin, "/metrics")
			p.stop(t, syscall.SIGTERM)

			blockText, _ := os.ReadFile(blocked)
			queryText, _ := os.ReadFile(queries)
			outputs := []struct {
				name, text string
				lines      int // JSON log lines, each checked for logClient; 0: not a log
			}{
				{"block log", string(blockText), 2},
				{"query log", string(queryText), 3},
				{"syslog receiver", strings.Join(syslog.messages(), "\n") + "\n", 2},
				{"HTTP collector", coll.all(), 3},
				{"/stats", stats, 0},
				{"/metrics", metrics, 0},
				{"bulwark's own log", p.stderr.String(), 0},
			}
			for _, o := range outputs {
				// /stats, /metrics and the daemon's own log (at info) never
				// name a client, under any setting.
				if has, want := strings.Contains(o.text, client), tt.mode == "full" && o.lines > 0; has != want {
					t.Errorf("%s: holds %s = %v under client: %s:\n%s", o.name, client, has, tt.mode, o.text)
				}
				for i, line := range strings.Split(strings.TrimSpace(o.text), "\n")[:min(o.lines, strings.Count(o.text, "\n"))] {
					if tt.logClient == "" && strings.Contains(line, `"client"`) ||
						tt.logClient != "" && !strings.Contains(line, tt.logClient) {
						t.Errorf("%s line %d: want %s (client: %s): %s", o.name, i+1, orNone(tt.logClient), tt.mode, line)
					}
				}
				if o.lines > 0 && strings.Count(o.text, "\n") < o.lines {
					t.Errorf("%s: %d records, want %d:\n%s", o.name, strings.Count(o.text, "\n"), o.lines, o.text)
				}
			}
			for _, m := range frames {
				var addr string
				if a, ok := netip.AddrFromSlice(m.GetQueryAddress()); ok {
					addr = a.String()
				}
				if addr != tt.tapAddr || (m.QueryPort != nil) != tt.tapPort {
					t.Errorf("dnstap %v: query_address %q, port set %v; want %q, %v", m.GetType(), addr, m.QueryPort != nil, tt.tapAddr, tt.tapPort)
				}
				raw, _ := proto.Marshal(m)
				if tt.mode != "full" && bytes.Contains(raw, []byte{127, 0, 0, 77}) {
					t.Errorf("dnstap %v: the frame holds the client's address bytes", m.GetType())
				}
				// The blocked queries' frames carry dnstap's Policy (Message
				// field 15, resolver/dnstap's TestTapPolicy decodes it), the
				// allowed one's none.
				wire := m.GetQueryMessage()
				if wire == nil {
					wire = m.GetResponseMessage()
				}
				blockedName := bytes.Contains(wire, []byte("\x04evil\x07example"))
				if policy := m.ProtoReflect().GetUnknown(); blockedName != bytes.Contains(policy, []byte("phishing")) {
					t.Errorf("dnstap %v, blocked %v: policy fields %q", m.GetType(), blockedName, policy)
				}
			}
		})
	}
}

// nextFrames decodes the next n frames the collector receives.
func nextFrames(t *testing.T, col *dnstaptest.Collector, n int) []*dnstappb.Dnstap {
	t.Helper()
	var frames []*dnstappb.Dnstap
	for len(frames) < n {
		select {
		case f := <-col.Frames:
			var dt dnstappb.Dnstap
			if err := proto.Unmarshal(f, &dt); err != nil {
				t.Fatal(err)
			}
			frames = append(frames, &dt)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d dnstap frames", len(frames), n)
		}
	}
	return frames
}

func orNone(s string) string {
	if s == "" {
		return "no client member"
	}
	return s
}

// collector is an HTTP log collector (ndjson, gzipped or not) on
// loopback.
type collector struct {
	url    string
	mu     sync.Mutex
	bodies []string
}

func startCollector(t *testing.T) *collector {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = z
		}
		b, _ := io.ReadAll(body)
		c.mu.Lock()
		c.bodies = append(c.bodies, string(b))
		c.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/ingest"
	return c
}

func (c *collector) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.bodies, "")
}

// TestReloadChangesClientMode: a reload from client: full to truncate
// applies to the next record, through the same block log and the same
// sink connection (nothing reopened).
func TestReloadChangesClientMode(t *testing.T) {
	digPath := needDig(t)
	lt := newLogTest(t)
	port, admin, dir := lt.port, lt.admin, lt.dir
	syslog := startSyslogReceiver(t)
	blocked := filepath.Join(dir, "blocked.jsonl")
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	write := func(mode string) {
		t.Helper()
		cfg := lt.head + fmt.Sprintf(`log:
  blocked: %q
  client: %s
  sinks:
    - {name: siem, url: "syslog+tcp://%s"}
`, blocked, mode, syslog.ln.Addr())
		writeFile(t, cfgPath, cfg)
	}
	write("full")
	p := startBulwark(t, admin, "-config", cfgPath)
	dig(t, digPath, port, "-b", "127.0.0.77", "a.evil.example", "A")
	waitLines(t, blocked, 1)
	write("truncate")
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	dig(t, digPath, port, "-b", "127.0.0.77", "b.evil.example", "A")
	waitLines(t, blocked, 2)
	for end := time.Now().Add(10 * time.Second); len(syslog.messages()) < 2 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM)

	b, _ := os.ReadFile(blocked)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	msgs := syslog.messages()
	if len(lines) != 2 || len(msgs) != 2 {
		t.Fatalf("%d lines, %d syslog messages, want 2 each:\n%s\n%q", len(lines), len(msgs), b, msgs)
	}
	for i, want := range []string{`"client":"127.0.0.77"`, `"client":"127.0.0.0/24"`} {
		if !strings.Contains(lines[i], want) || !strings.Contains(msgs[i], want) {
			t.Errorf("record %d: want %s in the file and the sink:\n%s\n%s", i+1, want, lines[i], msgs[i])
		}
	}
	syslog.mu.Lock()
	conns := syslog.conns
	syslog.mu.Unlock()
	if conns != 1 {
		t.Errorf("the sink connected %d times; the reload must keep it", conns)
	}
}

// TestBinaryTenantClientPrivacy: tenants' own `log: {client:}` win for
// their clients' records in the block log, the query log and dnstap, while
// the default policy's clients keep log.client (full): the addresses of
// council-a's (omit) and lab-d's (hash) clients appear in no output.
func TestBinaryTenantClientPrivacy(t *testing.T) {
	digPath := needDig(t)
	lt := newLogTest(t)
	tap := dnstaptest.New(t, "unix").Start()
	blocked, queries := filepath.Join(lt.dir, "blocked.jsonl"), filepath.Join(lt.dir, "queries.jsonl")
	cfg := lt.head + fmt.Sprintf(`log:
  blocked: %q
  queries: %q
  client: full
dnstap:
  socket: %q
tenants:
  - name: council-a
    clients: ["127.0.0.88/32"]
    log: {client: omit}
  - name: lab-d
    clients: ["127.0.0.99/32"]
    log: {client: hash}
`, blocked, queries, tap.Socket())
	cfgPath := filepath.Join(lt.dir, "bulwark.yaml")
	writeFile(t, cfgPath, cfg)
	p := startBulwark(t, lt.admin, "-config", cfgPath)
	clients := []struct {
		addr, tenant, logClient, tapAddr string
	}{
		{"127.0.0.77", "", `"client":"127.0.0.77"`, "127.0.0.77"},
		{"127.0.0.88", "council-a", "", ""},
		{"127.0.0.99", "lab-d", `"client":"hmac:`, ""},
	}
	for _, c := range clients {
		dig(t, digPath, lt.port, "-b", c.addr, "x"+strings.ReplaceAll(c.addr, ".", "-")+".evil.example", "A")
	}
	waitLines(t, blocked, 3)
	waitLines(t, queries, 3)
	frames := nextFrames(t, tap, 6)
	_, stats := adminGet(t, lt.admin, "/stats")
	_, metrics := adminGet(t, lt.admin, "/metrics")
	p.stop(t, syscall.SIGTERM)

	blockText, _ := os.ReadFile(blocked)
	queryText, _ := os.ReadFile(queries)
	for _, log := range []struct{ name, text string }{{"block log", string(blockText)}, {"query log", string(queryText)}} {
		for _, c := range clients {
			name := "x" + strings.ReplaceAll(c.addr, ".", "-") + ".evil.example"
			var line string
			for _, l := range strings.Split(log.text, "\n") {
				if strings.Contains(l, name) {
					line = l
				}
			}
			tenant := `"tenant":"` + c.tenant + `"`
			switch {
			case line == "":
				t.Errorf("%s: no record of %s", log.name, name)
			case c.logClient == "" && strings.Contains(line, `"client"`), c.logClient != "" && !strings.Contains(line, c.logClient):
				t.Errorf("%s, tenant %q: want %s: %s", log.name, c.tenant, orNone(c.logClient), line)
			case c.tenant != "" && !strings.Contains(line, tenant), c.tenant == "" && strings.Contains(line, `"tenant"`):
				t.Errorf("%s: want tenant %q: %s", log.name, c.tenant, line)
			}
		}
	}
	for _, f := range frames {
		m := f.GetMessage()
		var addr string
		if a, ok := netip.AddrFromSlice(m.GetQueryAddress()); ok {
			addr = a.String()
		}
		for _, c := range clients {
			if string(f.GetExtra()) == map[bool]string{true: "tenant=" + c.tenant, false: ""}[c.tenant != ""] && addr != c.tapAddr {
				t.Errorf("dnstap, extra %q: query_address %q, want %q", f.GetExtra(), addr, c.tapAddr)
			}
		}
		raw, _ := proto.Marshal(f)
		for _, hidden := range [][]byte{{127, 0, 0, 88}, {127, 0, 0, 99}} {
			if bytes.Contains(raw, hidden) {
				t.Errorf("dnstap frame (extra %q) holds %v", f.GetExtra(), hidden)
			}
		}
	}
	for _, o := range []struct{ name, text string }{{"block log", string(blockText)}, {"query log", string(queryText)},
		{"/stats", stats}, {"/metrics", metrics}} {
		for _, hidden := range []string{"127.0.0.88", "127.0.0.99"} {
			if strings.Contains(o.text, hidden) {
				t.Errorf("%s holds %s:\n%s", o.name, hidden, o.text)
			}
		}
	}
}
