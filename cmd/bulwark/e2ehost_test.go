package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/internal/proctest"
	"github.com/bulwark-dns/bulwark/internal/syncbuf"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// This file is the end-to-end harness of the package's tests: where a
// serve test's Bulwark listens (e2eHost) and its config, the built binary
// and a process running it, serve in the test process, and the admin API
// and DNS queries the tests ask it.

// e2eHost is where a serve test's Bulwark listens: DNS and the admin API
// on free loopback ports.
type e2eHost struct {
	port  int    // DNS, UDP and TCP
	admin string // the admin API's host:port
}

func newE2EHost(t *testing.T) e2eHost {
	return e2eHost{port: freePort(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
}

// listen is the config's listen section for h.
func (h e2eHost) listen() string {
	return fmt.Sprintf("listen:\n  dns: [\"127.0.0.1:%d\"]\n  admin: %q\n", h.port, h.admin)
}

// forwarding is the head of a serve config listening on h and forwarding
// to upstream; the test appends its own sections.
func (h e2eHost) forwarding(upstream string) string {
	return h.listen() + fmt.Sprintf("upstream:\n  servers: [%q]\n", upstream)
}

// config is a serve config listening on h and forwarding to upstream,
// with the test's own sections (body) and the block log off.
func (h e2eHost) config(upstream, body string) string {
	return h.forwarding(upstream) + body + "log:\n  blocked: \"off\"\n"
}

// recursive is a serve config listening on h in recursive mode over a
// simulated hierarchy (dnstest.Hierarchy) whose root server is rootIP on
// authPort, DNSSEC validation off (the simulated root is unsigned), with
// the test's own sections (body).
func (h e2eHost) recursive(rootIP string, authPort int, body string) string {
	return h.listen() + fmt.Sprintf(`upstream:
  mode: recursive
recursion:
  root_hints: ["a.root-servers.test %s"]
  port: %d
  query_loopback: true
  timeout: 3s
dnssec:
  validate: false
`, rootIP, authPort) + body
}

// addRoot serves the simulated root zone on h's server at root: its own
// name server a.root-servers.test and the TLD delegations given (NS
// records with their glue).
func addRoot(h *dnstest.Hierarchy, root string, delegations ...string) {
	h.Server(root).AddZone(".", append([]string{
		". 518400 IN NS a.root-servers.test.",
		"a.root-servers.test. 518400 IN A " + root,
	}, delegations...)...)
}

// wantMetrics fails t for each line of want that the admin API's /metrics
// does not contain.
func wantMetrics(t *testing.T, admin string, want ...string) {
	t.Helper()
	code, body := adminGet(t, admin, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: HTTP %d", code)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
}

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

// process is a running bulwark binary: cmd, and stderr holding its
// output (stdout too), are the test's to use.
type process struct {
	proc   *proctest.Process
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

// lockedBuffer collects a process's output for the test to read.
type lockedBuffer = syncbuf.Buffer

func startBulwark(t *testing.T, adminAddr string, args ...string) *process {
	t.Helper()
	return startBulwarkEnv(t, adminAddr, nil, args...)
}

// startBulwarkEnv is startBulwark with env added to the environment. The
// binary is ready once /readyz says so.
func startBulwarkEnv(t *testing.T, adminAddr string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bulwarkBinary(t), args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	proc := proctest.Start(t, cmd, 20*time.Second, func() bool {
		code, _ := readyz(adminAddr)
		return code == http.StatusOK
	})
	return &process{proc: proc, cmd: cmd, stderr: proc.Output}
}

// stop sends sig and fails the test unless the process exits cleanly
// (status 0) within 10 s: the graceful shutdown every signal test checks.
func (p *process) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.proc.Exited():
		if err := p.proc.Err(); err != nil {
			t.Fatalf("exit after %v: %v\n%s", sig, err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit 10s after %v", sig)
	}
}

// needDig is the path of dig, the client the binary tests ask as a user
// would; without it (Debian: bind9-dnsutils) the test is skipped.
func needDig(t *testing.T) string { return need.Tool(t, "dig", "bind9-dnsutils") }

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

// inProcess is `bulwark serve` running in the test process.
type inProcess struct {
	cancel context.CancelFunc
	hup    chan os.Signal
	done   chan int
	stderr *lockedBuffer
	once   sync.Once
}

func serveInProcess(t *testing.T, cfgPath string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{cancel: cancel, hup: make(chan os.Signal, 1), done: make(chan int, 1), stderr: &lockedBuffer{}}
	go func() { p.done <- run(ctx, []string{"serve", "-config", cfgPath}, io.Discard, p.stderr, p.hup) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("bulwark log:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *inProcess) stop(t *testing.T) {
	t.Helper()
	p.once.Do(func() {
		p.cancel()
		select {
		case code := <-p.done:
			if code != 0 {
				t.Errorf("serve exited %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
}

// readyz returns /readyz's status and body.
func readyz(admin string) (int, string) {
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits until the admin API at admin answers /readyz with 200:
// every list loaded, the listeners up. what names the wait in a failure.
func waitReady(t testing.TB, admin, what string) {
	t.Helper()
	wait.For(t, what, func() bool { code, _ := readyz(admin); return code == http.StatusOK })
}

// rcode is the rcode of the answer to an A query for name over UDP at
// 127.0.0.1:port.
func rcode(t *testing.T, port int, name string) int {
	t.Helper()
	resp, err := query("udp", port, name)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return resp.Rcode
}

// adminGet returns the status and body of GET path on the admin address.
func adminGet(t *testing.T, admin, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

// postReload asks for a reload; token "" sends no Authorization.
func postReload(t *testing.T, admin, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+admin+"/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape returns the value of one series of /metrics, written as in the
// exposition format (`name{label="v"}`), or -1 when it is absent.
func scrape(t *testing.T, admin, series string) float64 {
	t.Helper()
	_, body := adminGet(t, admin, "/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// query asks name (type A) over proto at 127.0.0.1:port.
func query(proto string, port int, name string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port))
	return resp, err
}

func wantRcode(t *testing.T, proto string, port int, name string, want int) {
	t.Helper()
	resp, err := query(proto, port, name)
	if err != nil {
		t.Errorf("%s %s: %v", proto, name, err)
		return
	}
	if resp.Rcode != want {
		t.Errorf("%s %s: %s, want %s", proto, name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[want])
	}
}
