package resolver_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// TestAbandonedDoHRequestsStayWithinMaxInflight: DoH clients that give up
// on their request (the HTTP/2 stream is reset after 20 ms) while the
// upstream is silent must not leave lookups running outside max_inflight.
// Before the fix the slot was returned at the reset while the cache's
// detached lookup ran on: 300 abandoned POSTs left ~300 lookups, each with
// its goroutines and its upstream socket, all at once with max_inflight 8.
//
// What is bounded is the lookups running at once, not the names asked in
// all: a held lookup gives up after its three tries (3 x 300 ms), frees its
// slot, and a later request may take it. On a loaded machine the 300
// requests outlast those 0.9 s, and 16 names in two waves reached the
// upstream with never more than 8 at once.
func TestAbandonedDoHRequestsStayWithinMaxInflight(t *testing.T) {
	const maxInflight, requests, senders = 8, 300, 10
	cert := newTestCert(t, t.TempDir())
	e := startEnv(t, phishingTable(t), envOpts{
		timeout: 30 * time.Second, tryTimeout: 300 * time.Millisecond,
		chain: func(next query.Resolver) query.Resolver {
			cfg := cache.Config{Size: 1000}
			cfg.SetDefaults()
			c := cache.New(cfg, next, clock.Real{}, nil, nil)
			t.Cleanup(c.Close)
			return c
		},
		listenCfg: resolver.ListenConfig{
			DNS: []string{"127.0.0.1:0"}, HTTPS: []string{"127.0.0.1:0"},
			CertFile: cert.certFile, KeyFile: cert.keyFile, MaxInflight: maxInflight,
		},
	})
	doh := e.srv.StreamAddrs()[query.ProtoDoH][0].String()
	hc := dohClient(cert)
	up := e.ups[0]

	// One answered request opens the HTTP/2 connection before the baseline.
	m := new(dns.Msg)
	m.SetQuestion("warm.example.org.", dns.TypeA)
	if resp, hr := dohQuery(t, hc, doh, http.MethodPost, m); resp == nil {
		t.Fatalf("warm-up query: HTTP %d", hr.StatusCode)
	}
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	up.SetMode(dnstest.Timeout)
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < requests/senders; i++ {
				q := new(dns.Msg)
				q.SetQuestion(fmt.Sprintf("abandoned-%d-%d.example.org.", s, i), dns.TypeA)
				w, _ := q.Pack()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+doh+"/dns-query", bytes.NewReader(w))
				req.Header.Set("Content-Type", "application/dns-message")
				if resp, err := hc.Do(req); err == nil {
					resp.Body.Close()
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	// Let whatever the resets left behind reach the upstream.
	time.Sleep(500 * time.Millisecond)

	var asked []string
	for _, q := range up.Queries() {
		if q.Name != "warm.example.org." {
			asked = append(asked, q.Name)
		}
	}
	names, atOnce := lookupsAtOnce(asked)
	g, fd := runtime.NumGoroutine()-baseG, openFDs(t)-baseFD
	t.Logf("%d abandoned POSTs: %d names reached the upstream, at most %d at once, %+d goroutines, %+d descriptors",
		requests, names, atOnce, g, fd)
	if atOnce > maxInflight {
		t.Errorf("%d lookups reached the upstream at once, want at most max_inflight %d", atOnce, maxInflight)
	}
	// Each lookup in flight: its handler, the cache's worker, the
	// forwarder's exchange; the rest is slack for the HTTP/2 machinery.
	if limit := 4*maxInflight + 30; g > limit {
		t.Errorf("%+d goroutines after the abandoned requests, want at most %d", g, limit)
	}
	if limit := 2*maxInflight + 10; fd > limit {
		t.Errorf("%+d descriptors after the abandoned requests, want at most %d", fd, limit)
	}

	// The held lookups end once the upstream answers, and their slots
	// come back: an ordinary query is answered.
	up.SetMode(dnstest.Answer)
	m.SetQuestion("after.example.org.", dns.TypeA)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, hr := dohQuery(t, hc, doh, http.MethodPost, m)
		if resp != nil {
			break
		}
		if hr.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the upstream recovered: HTTP %d", hr.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lookupsAtOnce reads the upstream's queries, in the order they arrived,
// as lookups: a name's lookup runs from its first query to its last (its
// retries), and a slot it frees is taken only after its last query. It
// returns how many names were asked and the most lookups whose spans
// overlap.
func lookupsAtOnce(asked []string) (names, atOnce int) {
	last := map[string]int{}
	for i, n := range asked {
		last[n] = i
	}
	open := map[string]bool{}
	for i, n := range asked {
		open[n] = true
		atOnce = max(atOnce, len(open))
		if last[n] == i {
			delete(open, n)
		}
	}
	return len(last), atOnce
}
