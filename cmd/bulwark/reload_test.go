package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// load queries one address over UDP and over one TCP connection from a
// few goroutines, for names the lists never block, until stopped or a
// bound is reached; every error and every non-NOERROR answer is a failure.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	first      error
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(port int) *load {
	l := &load{stop: make(chan struct{})}
	check := func(resp *dns.Msg, err error) {
		if err == nil && resp.Rcode != dns.RcodeSuccess {
			err = fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
		}
		if err != nil {
			l.failed.Add(1)
			l.mu.Lock()
			if l.first == nil {
				l.first = err
			}
			l.mu.Unlock()
			return
		}
		l.ok.Add(1)
	}
	for w := 0; w < 3; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; n < 50000; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				// 40 names: mostly cache hits (the UDP fast path), some misses.
				check(query("udp", port, fmt.Sprintf("u%d-%d.load.test", w, n%40)))
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
		conn, err := c.Dial(fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			check(nil, err)
			return
		}
		defer conn.Close()
		for n := 0; n < 50000; n++ {
			select {
			case <-l.stop:
				return
			default:
			}
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("t%d.load.test.", n%40), dns.TypeA)
			resp, _, err := c.ExchangeWithConn(m, conn)
			check(resp, err)
		}
	}()
	return l
}

// waitMore waits until n more queries have been answered.
func (l *load) waitMore(t *testing.T, n int64) {
	t.Helper()
	want := l.ok.Load() + n
	wait.For(t, "queries to flow", func() bool { return l.ok.Load() >= want || l.failed.Load() > 0 })
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d queries failed or timed out during the reloads; first: %v", n, n+l.ok.Load(), l.first)
	}
	t.Logf("%d queries answered during the reloads", l.ok.Load())
}

// reloadConfig is the config the reload tests rewrite: one list file per
// generation, the DNS addresses given.
func reloadConfig(admin, upstream string, dnsPorts []int, list, extra string) string {
	var addrs []string
	for _, p := range dnsPorts {
		addrs = append(addrs, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", p)))
	}
	return fmt.Sprintf(`listen:
  dns: [%s]
  admin: %q
upstream:
  servers: [%q]
  timeout: 10s
  try_timeout: 5s
blocklists:
  - name: local
    source: "file:%s"
log:
  blocked: "off"
%s`, strings.Join(addrs, ", "), admin, upstream, list, extra)
}

// TestReloadUnderLoad reloads serve several times — new list content, a
// listener added then removed, a new list file, once a new upstream —
// through POST /reload and SIGHUP while clients hammer the address that
// stays over UDP and TCP: no query may fail, and each new configuration
// must be in force once the reload is done.
func TestReloadUnderLoad(t *testing.T) {
	up, up2 := dnstest.Start(t, dnstest.WithWildcard()), dnstest.Start(t, dnstest.WithWildcard())
	port, extra, adminPort := freePort(t), freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	dir := writeFiles(t, map[string]string{"gen0.txt": "gen0.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	upstream := up.Addr
	write := func(ports []int, list string) {
		writeFile(t, cfgPath, reloadConfig(admin, upstream, ports, list, ""))
	}
	write([]int{port}, "gen0.txt")
	p := serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")
	wantRcode(t, "udp", port, "www.gen0.example", dns.RcodeNameError)

	l := startLoad(port)
	for gen := 1; gen <= 6; gen++ {
		l.waitMore(t, 300)
		ports := []int{port}
		if gen%2 == 1 {
			ports = append(ports, extra)
		}
		if gen == 4 {
			// A new upstream: a new forwarder and cache; the old ones
			// close once the queries inside them are answered.
			upstream = up2.Addr
		}
		list := fmt.Sprintf("gen%d.txt", gen)
		writeFile(t, filepath.Join(dir, list), fmt.Sprintf("gen%d.example\n", gen))
		write(ports, list)
		if gen%3 == 0 { // SIGHUP: asynchronous, done once counted
			before := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`)
			p.hup <- syscall.SIGHUP
			wait.For(t, "the SIGHUP reload", func() bool {
				return scrape(t, admin, `bulwark_config_reloads_total{result="success"}`) > before
			})
		} else if code, body := postReload(t, admin, ""); code != http.StatusOK {
			t.Fatalf("reload %d: POST /reload: %d %s", gen, code, body)
		}
		for _, proto := range []string{"udp", "tcp"} {
			wantRcode(t, proto, port, fmt.Sprintf("www.gen%d.example", gen), dns.RcodeNameError)
			wantRcode(t, proto, port, fmt.Sprintf("www.gen%d.example", gen-1), dns.RcodeSuccess)
		}
		if len(ports) == 2 {
			wantRcode(t, "tcp", extra, fmt.Sprintf("www.gen%d.example", gen), dns.RcodeNameError)
		} else if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", extra), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("reload %d: the removed listener still accepts connections", gen)
		}
	}
	l.finish(t)
	if v := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`); v != 6 {
		t.Errorf("reloads_total{success} = %v, want 6", v)
	}
	if v := scrape(t, admin, `bulwark_config_reloads_total{result="failure"}`); v != 0 {
		t.Errorf("reloads_total{failure} = %v, want 0", v)
	}
	// A list-only change kept the cache (and its upstream): the load's
	// names were asked upstream about once each, not once per reload.
	if n := up.Count(); n > 200 {
		t.Errorf("the first upstream saw %d queries for 160 names: a list-only reload dropped the cache", n)
	}
	if up2.Count() == 0 {
		t.Error("the new upstream was never asked")
	}
	// The removed list file's feed series are gone; the current one's remain.
	if v := scrape(t, admin, `bulwark_feed_entries{feed="local"}`); v != 1 {
		t.Errorf(`bulwark_feed_entries{feed="local"} = %v, want 1`, v)
	}
}

// TestReloadFailureKeepsRunningConfig: each broken config fails the
// reload — counted, logged, answered 500 — and the running configuration
// keeps serving, unchanged; a fixed config then reloads.
func TestReloadFailureKeepsRunningConfig(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	port, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	dir := writeFiles(t, map[string]string{"old.txt": "old.example\n", "new.txt": "new.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	good := reloadConfig(admin, up.Addr, []int{port}, "old.txt", "")
	writeFile(t, cfgPath, good)
	p := serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	bad := []struct {
		name, cfg, want string
	}{
		{"yaml syntax", "listen: [\n", "bulwark.yaml"},
		{"unknown key", good + "colour: blue\n", "colour"},
		{"missing list file", reloadConfig(admin, up.Addr, []int{port}, "gone.txt", ""), "gone.txt"},
		{"listener address in use", reloadConfig(admin, up.Addr, []int{port, busyPort}, "new.txt", ""), "address already in use"},
		{"admin address in use", reloadConfig(fmt.Sprintf("127.0.0.1:%d", busyPort), up.Addr, []int{port}, "new.txt", ""), "admin"},
		{"unset token variable", reloadConfig(admin, up.Addr, []int{port}, "new.txt", "admin:\n  token: \"${BULWARK_TEST_UNSET_TOKEN}\"\n"), "BULWARK_TEST_UNSET_TOKEN"},
	}
	for i, b := range bad {
		writeFile(t, cfgPath, b.cfg)
		code, body := postReload(t, admin, "")
		if code != http.StatusInternalServerError || !strings.Contains(body, b.want) || !strings.Contains(body, `"result": "failure"`) {
			t.Errorf("%s: POST /reload = %d %s, want 500 naming %q", b.name, code, body, b.want)
		}
		wantRcode(t, "udp", port, "www.old.example", dns.RcodeNameError)
		wantRcode(t, "tcp", port, "www.new.example", dns.RcodeSuccess)
		if v := scrape(t, admin, `bulwark_config_reloads_total{result="failure"}`); v != float64(i+1) {
			t.Errorf("%s: reloads_total{failure} = %v, want %d", b.name, v, i+1)
		}
		if v := scrape(t, admin, "bulwark_config_last_reload_successful"); v != 0 {
			t.Errorf("%s: last_reload_successful = %v", b.name, v)
		}
		if code, _ := readyz(admin); code != http.StatusOK {
			t.Errorf("%s: not ready after a failed reload", b.name)
		}
	}
	// The stats say what went wrong; the log too.
	if _, body := adminGet(t, admin, "/stats"); !strings.Contains(body, "BULWARK_TEST_UNSET_TOKEN") {
		t.Errorf("/stats does not show the last reload error:\n%s", body)
	}
	if !strings.Contains(p.stderr.String(), "config reload failed; the running configuration stays") {
		t.Error("the failed reload is not logged")
	}
	// SIGHUP with a broken config: the same.
	p.hup <- syscall.SIGHUP
	wait.For(t, "the SIGHUP reload to fail", func() bool {
		return scrape(t, admin, `bulwark_config_reloads_total{result="failure"}`) == float64(len(bad)+1)
	})
	wantRcode(t, "udp", port, "www.old.example", dns.RcodeNameError)

	writeFile(t, cfgPath, reloadConfig(admin, up.Addr, []int{port}, "new.txt", ""))
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("fixed config: POST /reload = %d %s", code, body)
	}
	wantRcode(t, "udp", port, "www.old.example", dns.RcodeSuccess)
	wantRcode(t, "udp", port, "www.new.example", dns.RcodeNameError)
	if v := scrape(t, admin, "bulwark_config_last_reload_successful"); v != 1 {
		t.Errorf("last_reload_successful = %v after a good reload", v)
	}
}

// TestReloadMovesAdmin: a reload may move the admin API; the old address
// closes once the new one serves.
func TestReloadMovesAdmin(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	port := freePort(t)
	admin, admin2 := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeFiles(t, map[string]string{"l.txt": "l.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, reloadConfig(admin, up.Addr, []int{port}, "l.txt", ""))
	serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")
	writeFile(t, cfgPath, reloadConfig(admin2, up.Addr, []int{port}, "l.txt", ""))
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("POST /reload = %d %s", code, body)
	}
	if code, _ := readyz(admin2); code != http.StatusOK {
		t.Errorf("the new admin address does not serve: %d", code)
	}
	wait.For(t, "the old admin address to close", func() bool { code, _ := readyz(admin); return code == 0 })
}

// TestBinaryReload drives the binary: SIGHUP and POST /reload (with the
// admin token) each load a changed config and list, as dig sees.
func TestBinaryReload(t *testing.T) {
	digPath := needDig(t)
	up := dnstest.Start(t, dnstest.WithWildcard())
	port, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	const token = "0123456789abcdef-reload-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("admin:\n  token_file: %q\n", tokenFile)
	dir := writeFiles(t, map[string]string{"one.txt": "one.example\n", "two.txt": "two.example\n", "three.txt": "three.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, reloadConfig(admin, up.Addr, []int{port}, "one.txt", extra))
	p := startBulwark(t, admin, "-config", cfgPath)
	if out := dig(t, digPath, port, "www.one.example", "A"); !strings.Contains(out, "status: NXDOMAIN") {
		t.Fatalf("before the reload:\n%s", out)
	}

	// SIGHUP.
	writeFile(t, cfgPath, reloadConfig(admin, up.Addr, []int{port}, "two.txt", extra))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the SIGHUP reload", func() bool {
		return scrape(t, admin, `bulwark_config_reloads_total{result="success"}`) == 1
	})
	if out := dig(t, digPath, port, "www.two.example", "A"); !strings.Contains(out, "status: NXDOMAIN") {
		t.Errorf("after SIGHUP, two.example is not blocked:\n%s", out)
	}
	if out := dig(t, digPath, port, "+tcp", "www.one.example", "A"); !strings.Contains(out, "status: NOERROR") {
		t.Errorf("after SIGHUP, one.example is still blocked:\n%s", out)
	}

	// POST /reload: the token is required.
	writeFile(t, cfgPath, reloadConfig(admin, up.Addr, []int{port}, "three.txt", extra))
	if code, _ := postReload(t, admin, ""); code != http.StatusUnauthorized {
		t.Errorf("POST /reload without the token: %d, want 401", code)
	}
	if out := dig(t, digPath, port, "www.three.example", "A"); !strings.Contains(out, "status: NOERROR") {
		t.Errorf("an unauthorized POST /reload reloaded:\n%s", out)
	}
	code, body := postReload(t, admin, token)
	if code != http.StatusOK {
		t.Fatalf("POST /reload with the token: %d %s", code, body)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(body), &res); err != nil || res["result"] != "success" {
		t.Errorf("POST /reload body %s (%v)", body, err)
	}
	if out := dig(t, digPath, port, "www.three.example", "A"); !strings.Contains(out, "status: NXDOMAIN") {
		t.Errorf("after POST /reload, three.example is not blocked:\n%s", out)
	}
	p.stop(t, syscall.SIGTERM)
}

// TestReloadDrainsReplacedUpstream: queries waiting on the old upstream
// when a reload replaces it are still answered by it: the old forwarder's
// connections close only once those queries are done.
func TestReloadDrainsReplacedUpstream(t *testing.T) {
	up, up2 := dnstest.Start(t, dnstest.WithWildcard()), dnstest.Start(t, dnstest.WithWildcard())
	up.SetDelay(300 * time.Millisecond) // keeps the queries in flight across the reload
	port, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	dir := writeFiles(t, map[string]string{"l.txt": "l.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	// Over TCP: connections that closing the forwarder would cut.
	writeFile(t, cfgPath, reloadConfig(admin, "tcp://"+up.Addr, []int{port}, "l.txt", ""))
	serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")

	const n = 3
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			resp, err := query("udp", port, fmt.Sprintf("inflight%d.example.org", i))
			if err == nil && resp.Rcode != dns.RcodeSuccess {
				err = fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
			}
			errs <- err
		}()
	}
	wait.For(t, "the queries to reach the old upstream", func() bool { return up.Count() >= n })
	writeFile(t, cfgPath, reloadConfig(admin, up2.Addr, []int{port}, "l.txt", ""))
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("POST /reload = %d %s", code, body)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("a query in flight across the reload failed: %v", err)
		}
	}
	before := up2.Count()
	wantRcode(t, "udp", port, "after.example.org", dns.RcodeSuccess)
	if up2.Count() == before {
		t.Error("the new upstream does not answer after the reload")
	}
}
