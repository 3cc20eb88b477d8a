package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestAdminTokenGuardsReload: with admin.token set, POST /reload answers
// 401 without the token or with a wrong one, and 200 with it; the
// read-only endpoints stay open.
func TestAdminTokenGuardsReload(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	port, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	const token = "an-admin-token-long-enough"
	t.Setenv("BULWARK_TEST_ADMIN_TOKEN", token)
	dir := writeFiles(t, map[string]string{"l.txt": "l.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	cfg := reloadConfig(admin, up.Addr, []int{port}, "l.txt", "admin:\n  token: \"${BULWARK_TEST_ADMIN_TOKEN}\"\n")
	writeFile(t, cfgPath, cfg)
	serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")

	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/lists", "/stats", "/explain?name=l.example", "/"} {
		if code, body := adminGet(t, admin, path); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d %s", path, code, body)
		}
	}
	for _, c := range []struct {
		name, auth string
	}{{"no header", ""}, {"wrong token", "Bearer not-the-token-at-all"}, {"token as basic", "Basic " + token}, {"bare token", token}} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/reload", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		code, body := do(t, req)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: POST /reload = %d %s, want 401", c.name, code, body)
		}
	}
	if v := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`); v != 0 {
		t.Errorf("an unauthorized request reloaded: reloads_total{success} = %v", v)
	}
	if code, body := postReload(t, admin, token); code != http.StatusOK || !strings.Contains(body, `"result": "success"`) {
		t.Errorf("POST /reload with the token = %d %s", code, body)
	}
	if v := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`); v != 1 {
		t.Errorf("reloads_total{success} = %v after an authorized reload", v)
	}
	if code, _ := adminGet(t, admin, "/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /reload = %d, want 405", code)
	}
}

// TestAdminReloadWithoutTokenIsLoopbackOnly: without a token, POST /reload
// from a client that is not on loopback is refused (403) before anything
// happens.
func TestAdminReloadWithoutTokenIsLoopbackOnly(t *testing.T) {
	d := &daemon{ctx: context.Background(), logger: slog.New(slog.DiscardHandler), pm: newProcessMetrics(time.Now())}
	h := d.adminHandler()
	for _, remote := range []string{"192.0.2.1:5353", "[2001:db8::1]:5353", "10.0.0.1:1"} {
		req := httptest.NewRequest(http.MethodPost, "/reload", nil)
		req.RemoteAddr, req.Host = remote, "192.0.2.53:9153"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "loopback") {
			t.Errorf("POST /reload from %s: %d %s, want 403", remote, w.Code, w.Body.String())
		}
	}
	// From loopback the request gets through to the reload (which, with
	// nothing running, says so).
	req := httptest.NewRequest(http.MethodPost, "/reload", nil)
	req.RemoteAddr, req.Host = "[::1]:5353", "[::1]:9153"
	d.ctx = canceled()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("POST /reload from loopback: %d %s, want it to reach the reload", w.Code, w.Body.String())
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestAdminListsAndStats: /lists describes each list (a failing HTTP list
// with its error), /stats counts what /metrics counts.
func TestAdminListsAndStats(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	dir := writeFiles(t, map[string]string{
		"bulwark.yaml": h.config(up.Addr, fmt.Sprintf(`feeds:
  startup: serve-cached
blocklists:
  - name: local
    source: "file:local.txt"
    category: phishing
  - name: remote
    source: "%s/list.txt?key=secret-key"
    action: refused
allowlists:
  - name: exceptions
    source: "file:allow.txt"
`, missing.URL)),
		"local.txt": "evil.example\nnot..valid\n",
		"allow.txt": "good.evil.example\n",
	})
	serveInProcess(t, filepath.Join(dir, "bulwark.yaml"))
	// DNS is served (a TCP connection counts no query) while the remote
	// list is missing.
	wait.For(t, "DNS", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if code, body := readyz(admin); code != http.StatusServiceUnavailable || !strings.Contains(body, "remote") {
		t.Errorf("/readyz = %d %s, want 503 naming the missing list", code, body)
	}

	code, body := adminGet(t, admin, "/lists")
	if code != http.StatusOK {
		t.Fatalf("/lists: %d %s", code, body)
	}
	var lists struct{ Lists []listStatus }
	if err := json.Unmarshal([]byte(body), &lists); err != nil {
		t.Fatalf("/lists: %v\n%s", err, body)
	}
	if len(lists.Lists) != 3 {
		t.Fatalf("/lists has %d lists: %s", len(lists.Lists), body)
	}
	local, remote, allow := lists.Lists[0], lists.Lists[1], lists.Lists[2]
	if local.Name != "local" || local.Kind != "block" || local.Format != "domains" || local.Entries != 1 || local.Rejected != 1 ||
		!local.Loaded || local.Origin != "file" || local.LastSuccess == nil || local.Category != "phishing" || local.Action != "nxdomain" ||
		!strings.HasSuffix(local.Source, "local.txt") {
		t.Errorf("local: %+v", local)
	}
	if remote.Name != "remote" || remote.Loaded || !strings.Contains(remote.LastError, "404") || remote.Action != "refused" ||
		strings.Contains(remote.Source, "secret-key") {
		t.Errorf("remote: %+v", remote)
	}
	if strings.Contains(body, "secret-key") {
		t.Error("/lists shows a secret of the source URL")
	}
	if allow.Kind != "allow" || allow.Entries != 1 || allow.Action != "" {
		t.Errorf("allow: %+v", allow)
	}

	for _, n := range []string{"www.example.org", "www.example.org", "evil.example"} {
		if _, err := query("udp", port, n); err != nil {
			t.Fatal(err)
		}
	}
	if resp, err := query("tcp", port, "x.evil.example"); err != nil || resp.Rcode != dns.RcodeNameError {
		t.Fatalf("tcp: %v %v", resp, err)
	}
	code, body = adminGet(t, admin, "/stats")
	if code != http.StatusOK {
		t.Fatalf("/stats: %d %s", code, body)
	}
	var st serverStats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/stats: %v\n%s", err, body)
	}
	if st.Queries["udp"] != 3 || st.Queries["tcp"] != 1 || st.Queries["total"] != 4 {
		t.Errorf("queries %v", st.Queries)
	}
	if st.Blocked.Total != 2 || st.Blocked.ByList["local"] != 2 {
		t.Errorf("blocked %+v", st.Blocked)
	}
	if st.Cache.Hits != 1 || st.Cache.Misses != 1 || st.Cache.Entries != 1 || st.Cache.HitRatio == nil || *st.Cache.HitRatio != 0.5 {
		t.Errorf("cache %+v", st.Cache)
	}
	if len(st.Upstreams) != 1 || st.Upstreams[0].Upstream != up.Addr || !st.Upstreams[0].Healthy || st.Upstreams[0].Requests["success"] != 1 {
		t.Errorf("upstreams %+v", st.Upstreams)
	}
	if st.Blocklist.Lists != 3 || st.Blocklist.Rules != 2 || st.Blocklist.Bytes <= 0 {
		t.Errorf("blocklist %+v", st.Blocklist)
	}
	if st.Ready || !strings.Contains(st.NotReady, "remote") || st.Version == "" || st.UptimeSeconds <= 0 {
		t.Errorf("stats %+v", st)
	}
	// The same numbers as /metrics.
	if v := scrape(t, admin, `bulwark_cache_hits_total`); v != st.Cache.Hits {
		t.Errorf("/metrics cache hits %v, /stats %v", v, st.Cache.Hits)
	}
}

// TestAdminPprofIsOptIn: /debug/pprof/ answers 404 until admin.pprof is on.
func TestAdminPprofIsOptIn(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	for _, on := range []bool{false, true} {
		port, adminPort := freePort(t), freePort(t)
		admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
		dir := writeFiles(t, map[string]string{"l.txt": "l.example\n"})
		cfgPath := filepath.Join(dir, "bulwark.yaml")
		cfg := reloadConfig(admin, up.Addr, []int{port}, "l.txt", fmt.Sprintf("admin:\n  pprof: %v\n", on))
		writeFile(t, cfgPath, cfg)
		serveInProcess(t, cfgPath)
		waitReady(t, admin, "/readyz")
		code, body := adminGet(t, admin, "/debug/pprof/")
		switch {
		case !on && code != http.StatusNotFound:
			t.Errorf("pprof off: GET /debug/pprof/ = %d", code)
		case on && (code != http.StatusOK || !strings.Contains(body, "goroutine")):
			t.Errorf("pprof on: GET /debug/pprof/ = %d %.80s", code, body)
		}
	}
}

// startAdminDaemon serves a config with one local list and extra YAML, and
// returns the admin address once ready.
func startAdminDaemon(t *testing.T, extra string) string {
	t.Helper()
	return startAdminDaemonLists(t, extra, "")
}

// startAdminDaemonLists is startAdminDaemon with more blocklists entries.
func startAdminDaemonLists(t *testing.T, extra, lists string) string {
	t.Helper()
	up := dnstest.Start(t, dnstest.WithWildcard())
	port, adminPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	dir := writeFiles(t, map[string]string{"l.txt": "l.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	cfg := strings.Replace(reloadConfig(admin, up.Addr, []int{port}, "l.txt", extra), "blocklists:\n", "blocklists:\n"+lists, 1)
	writeFile(t, cfgPath, cfg)
	serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")
	return admin
}

// TestAdminChecksHost: a DNS-rebinding page reaches 127.0.0.1 under its
// own name; the admin API answers only requests naming it — an IP address,
// localhost, or a name in admin.hosts — for reads and for POST /reload.
func TestAdminChecksHost(t *testing.T) {
	admin := startAdminDaemon(t, "admin:\n  hosts: [\"bulwark-1.example.net\"]\n")
	_, port, _ := net.SplitHostPort(admin)
	for _, tc := range []struct {
		host string
		want int
	}{
		{admin, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"bulwark-1.example.net:" + port, http.StatusOK},
		{"Bulwark-1.Example.Net.", http.StatusOK},
		{"rebind.attacker.example:" + port, http.StatusForbidden},
		{"127.0.0.1.nip.io", http.StatusForbidden},
		{"bulwark-2.example.net", http.StatusForbidden},
	} {
		for _, path := range []string{"/lists", "/explain?name=l.example", "/stats", "/metrics"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+admin+path, nil)
			req.Host = tc.host
			if code, body := do(t, req); code != tc.want {
				t.Errorf("GET %s with Host %q: %d %.100s, want %d", path, tc.host, code, body, tc.want)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/reload", nil)
	req.Host = "rebind.attacker.example:" + port
	if code, _ := do(t, req); code != http.StatusForbidden {
		t.Errorf("POST /reload with a rebinding Host: %d, want 403", code)
	}
	if v := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`); v != 0 {
		t.Errorf("a rebinding request reloaded: reloads_total{success} = %v", v)
	}
	// curl, as an operator uses it, is served.
	if out, err := exec.Command("curl", "-sf", "-X", "POST", "http://"+admin+"/reload").CombinedOutput(); err != nil && !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("curl -X POST /reload: %v %s", err, out)
	}
}

// TestAdminRefusesCrossOriginReload: a web page on the host (CSRF) can send
// a POST to 127.0.0.1 but its browser marks it (Sec-Fetch-Site, Origin);
// such a request never reloads. A same-origin or scripted one does.
func TestAdminRefusesCrossOriginReload(t *testing.T) {
	admin := startAdminDaemon(t, "")
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-site other origin", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"old browser, foreign Origin", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"form from a file", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + admin}, http.StatusOK},
		{"script (no browser headers)", nil, http.StatusOK},
	} {
		before := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`)
		req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/reload", strings.NewReader("x=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		code, body := do(t, req)
		if code != tc.want {
			t.Errorf("%s: POST /reload = %d %.120s, want %d", tc.name, code, body, tc.want)
		}
		after := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`)
		if reloaded := after > before; reloaded != (tc.want == http.StatusOK) {
			t.Errorf("%s: reloaded = %v", tc.name, reloaded)
		}
	}
}

// TestAdminReloadsCoalesce: twenty POST /reload at once share reloads, and twenty reloads in a row ask an HTTP feed at most once more:
// a feed provider sees no burst however the admin API is driven.
func TestAdminReloadsCoalesce(t *testing.T) {
	var feedHits atomic.Int64
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		feedHits.Add(1)
		_, _ = w.Write([]byte("remote.example\n"))
	}))
	defer feed.Close()
	admin := startAdminDaemonLists(t, "", fmt.Sprintf("  - name: remote\n    source: %q\n", feed.URL))
	if n := feedHits.Load(); n != 1 {
		t.Fatalf("feed asked %d times at start, want 1", n)
	}
	const n = 20
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Go(func() {
			code, _ := postReload(t, admin, "")
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("a concurrent POST /reload answered %d", code)
		}
	}
	// Requests arriving while a reload runs share the one queued after
	// it; how many arrive during each depends on the machine, but never
	// one reload per request.
	if v := scrape(t, admin, `bulwark_config_reloads_total{result="success"}`); v < 1 || v >= n/2 {
		t.Errorf("%d concurrent POST /reload ran %v reloads, want fewer than %d", n, v, n/2)
	}
	for range n {
		if code, body := postReload(t, admin, ""); code != http.StatusOK {
			t.Fatalf("POST /reload: %d %s", code, body)
		}
	}
	// The refreshes RefreshAll asked for run in the background: give them
	// time to reach the feed, if they were going to.
	time.Sleep(500 * time.Millisecond)
	if got := feedHits.Load(); got > 2 {
		t.Errorf("%d reloads asked the feed %d times, want at most once more than at start", 2*n, got)
	}
}

// TestAdminConnectionsBounded: idle connections past the admin bound are
// closed at once, so a client cannot hold hundreds of them; once they go,
// the API answers again.
func TestAdminConnectionsBounded(t *testing.T) {
	admin := startAdminDaemon(t, "")
	const n = adminMaxConns + 40
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", admin)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Read every connection at once, for less than the header timeout
	// (5s) that would close them all anyway.
	var closed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(deadline)
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				closed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := closed.Load(); got < n-adminMaxConns {
		t.Errorf("%d of %d idle connections closed, want at least %d (bound %d)", got, n, n-adminMaxConns, adminMaxConns)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitReady(t, admin, "the admin API to answer again")
}

// TestAdminServerTimeouts: the admin server closes idle keep-alive
// connections and bounds a request's read and headers (an unset
// IdleTimeout in net/http keeps idle connections forever).
func TestAdminServerTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{ctx: canceled(), logger: slog.New(slog.DiscardHandler), pm: newProcessMetrics(time.Now())}
	a := serveAdmin(ln.Addr().String(), ln, d)
	defer a.close()
	if a.srv.IdleTimeout <= 0 || a.srv.ReadTimeout <= 0 || a.srv.ReadHeaderTimeout <= 0 || a.srv.MaxHeaderBytes <= 0 || a.srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("admin server idle %v, read %v, header %v, max header bytes %d: want all bounded",
			a.srv.IdleTimeout, a.srv.ReadTimeout, a.srv.ReadHeaderTimeout, a.srv.MaxHeaderBytes)
	}
}
