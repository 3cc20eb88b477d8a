package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// mutableFeed is an HTTP feed whose body a test replaces.
type mutableFeed struct {
	mu   sync.Mutex
	body string
}

func (f *mutableFeed) set(body string) {
	f.mu.Lock()
	f.body = body
	f.mu.Unlock()
}

func (f *mutableFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	body := f.body
	f.mu.Unlock()
	_, _ = io.WriteString(w, body)
}

// TestServeHTTPFeed runs serve with an HTTP feed: it is served, SIGHUP
// refreshes it, a restart with the feed server gone serves the disk cache,
// and check reports the cached copy.
func TestServeHTTPFeed(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	feed := &mutableFeed{body: "[Adblock Plus 2.0]\n||first.example^\n##.ad\n"}
	srv := httptest.NewServer(feed)
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	dir := writeFiles(t, map[string]string{"bulwark.yaml": h.config(up.Addr, fmt.Sprintf(`feeds:
  cache_dir: cache
blocklists:
  - name: remote
    source: "%s/feed.txt"
    refresh: 1h
`, srv.URL))})
	cfgPath := filepath.Join(dir, "bulwark.yaml")

	p := serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")
	if rcode(t, port, "www.first.example") != dns.RcodeNameError || rcode(t, port, "second.example") != dns.RcodeSuccess {
		t.Fatal("the HTTP feed is not applied")
	}
	wantMetrics(t, admin,
		`bulwark_feed_entries{feed="remote"} 1`,
		`bulwark_feed_loaded{feed="remote"} 1`,
		`bulwark_feed_last_attempt_success{feed="remote"} 1`,
		`bulwark_feed_skipped_lines{feed="remote",reason="cosmetic rule"} 1`,
		`bulwark_feed_fetches_total{feed="remote",result="updated"} 1`,
		`bulwark_blocklist_entries 1`)

	feed.set("||first.example^\n||second.example^\n")
	p.hup <- syscall.SIGHUP
	wait.For(t, "SIGHUP to refresh the feed", func() bool { return rcode(t, port, "second.example") == dns.RcodeNameError })
	p.stop(t)

	// The feed server is gone: the restart serves the cached copy.
	srv.Close()
	p2 := serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz after the restart")
	if rcode(t, port, "second.example") != dns.RcodeNameError {
		t.Error("the cached copy is not served after a restart")
	}
	if !strings.Contains(p2.stderr.String(), "origin=cache") {
		t.Error("the log does not say the copy came from the cache")
	}
	p2.stop(t)

	code, out, errs := runCmd(t, "check", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, `list "remote" (`+srv.URL+`/feed.txt, adblock, cached copy of `) || !strings.Contains(out, "2 entries") {
		t.Errorf("check: exit %d\n%s%s", code, out, errs)
	}
}

// TestServeCachedNotReady: with startup serve-cached and a feed that cannot
// be fetched and has no cache, DNS is served at once and /readyz says 503
// naming the feed.
func TestServeCachedNotReady(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	srv := httptest.NewServer(http.NotFoundHandler())
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	dir := writeFiles(t, map[string]string{
		"bulwark.yaml": h.config(up.Addr, fmt.Sprintf(`feeds:
  startup: serve-cached
  cache_dir: cache
blocklists:
  - name: local
    source: "file:local.txt"
  - name: missing
    source: "%s/gone.txt"
`, srv.URL)),
		"local.txt": "local.example\n",
	})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	serveInProcess(t, cfgPath)
	// /readyz is up before the DNS listeners: wait for both.
	probe := new(dns.Msg).SetQuestion("probe.example.", dns.TypeA)
	wait.For(t, "DNS served while /readyz names the missing feed", func() bool {
		code, body := readyz(admin)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "missing") || !strings.Contains(body, "404") {
			return false
		}
		_, err := dns.Exchange(probe, fmt.Sprintf("127.0.0.1:%d", port))
		return err == nil
	})
	if rcode(t, port, "local.example") != dns.RcodeNameError {
		t.Error("the local list is not served while the remote one is missing")
	}

	code, out, _ := runCmd(t, "check", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, `list "missing" (`+srv.URL+`/gone.txt): not loaded: not downloaded by this command, and no cached copy in`) {
		t.Errorf("check: exit %d\n%s", code, out)
	}
}
