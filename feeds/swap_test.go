package feeds_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// commonNames is how many names both versions of the swapping feed list:
// enough that a half-built table would miss some.
const commonNames = 5000

// swappingFeed serves two versions of a list in turn, one per request:
// both block always.example and common0..N.example; version A also blocks
// only-a.example, version B only-b.example.
func swappingFeed(t *testing.T) *httptest.Server {
	var n atomic.Int64
	var common strings.Builder
	common.WriteString("always.example\n")
	for i := 0; i < commonNames; i++ {
		fmt.Fprintf(&common, "common%d.example\n", i)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := "a"
		if n.Add(1)%2 == 0 {
			v = "b"
		}
		w.Header().Set("ETag", `"`+v+`"`)
		fmt.Fprintf(w, "%sonly-%s.example\n", common.String(), v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSwapUnderLoad hammers the real server (guard, policy, forwarder to a
// fake upstream) over loopback UDP and TCP while the Manager swaps the
// table over and over. Every query must be answered, and answered as one
// whole version of the list says: names both versions block are always
// blocked, allowed names always resolve.
func TestSwapUnderLoad(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	feed := swappingFeed(t)

	var tables atomic.Pointer[blocklist.Table]
	var swaps atomic.Int64
	m, err := feeds.NewManager(feeds.Options{
		Blocklists: []feeds.ListConfig{{Name: "swap", Source: feed.URL, Category: "test"}},
		Metrics:    feeds.NewMetrics(nil),
		Tables:     &tables,
		Version:    "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)

	addr := startResolver(t, &tables, up.Addr)

	const (
		workers    = 4
		minQueries = 300    // per worker
		maxQueries = 20_000 // per worker: bounds the test if swaps are slow
		minSwaps   = 20
	)
	stop := make(chan struct{})
	var swapErr error
	var swapper sync.WaitGroup
	swapper.Go(func() {
		last := tables.Load()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// RefreshNow publishes a changed table before it returns.
			if err := m.RefreshNow(context.Background()); err != nil {
				swapErr = err
				return
			}
			if cur := tables.Load(); cur != last {
				last = cur
				swaps.Add(1)
			}
		}
	})

	type failure struct{ name, got string }
	failures := make(chan failure, 100)
	var queries atomic.Int64
	var workersWG sync.WaitGroup
	for w := 0; w < workers; w++ {
		proto := "udp"
		if w == 0 {
			proto = "tcp"
		}
		workersWG.Go(func() {
			c := &dns.Client{Net: proto, Timeout: 5 * time.Second} // a try; exchange retries
			for i := 0; i < maxQueries && (i < minQueries || swaps.Load() < minSwaps); i++ {
				queries.Add(1)
				var name string
				switch i % 5 {
				case 0:
					name = "always.example"
				case 1:
					name = fmt.Sprintf("www.common%d.example", (i*7919+w)%commonNames)
				case 2:
					name = "only-a.example"
				case 3:
					name = "only-b.example"
				default:
					name = fmt.Sprintf("allowed%d.example.org", i)
				}
				q := new(dns.Msg)
				q.SetQuestion(dns.Fqdn(name), dns.TypeA)
				resp, err := exchange(c, q, addr)
				got := ""
				switch {
				case err != nil:
					got = err.Error()
				case i%5 <= 1 && resp.Rcode != dns.RcodeNameError:
					got = "not blocked: " + dns.RcodeToString[resp.Rcode]
				case i%5 == 4 && (resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1):
					got = "not resolved: " + dns.RcodeToString[resp.Rcode]
				case resp.Rcode != dns.RcodeNameError && resp.Rcode != dns.RcodeSuccess:
					got = "rcode " + dns.RcodeToString[resp.Rcode]
				}
				if got != "" {
					select {
					case failures <- failure{proto + " " + name, got}:
					default:
					}
				}
			}
		})
	}
	workersWG.Wait()
	close(stop)
	swapper.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("%s: %s", f.name, f.got)
	}
	if swapErr != nil {
		t.Errorf("refresh: %v", swapErr)
	}
	if swaps.Load() < minSwaps {
		t.Errorf("only %d swaps during %d queries; the test did not exercise swapping", swaps.Load(), queries.Load())
	}
	t.Logf("%d queries, %d tables published", queries.Load(), swaps.Load())
}

// exchange asks q of addr, asking again when a try gets no answer in
// c.Timeout (a datagram lost, or an answer slowed past the try by a loaded
// machine) until wait.Bound has passed: the test judges the answers, not
// how long they took.
func exchange(c *dns.Client, q *dns.Msg, addr string) (*dns.Msg, error) {
	deadline := time.Now().Add(wait.Bound)
	for {
		r, _, err := c.Exchange(q, addr)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() || time.Now().After(deadline) {
			return r, err
		}
	}
}

// startResolver runs guard -> policy -> forwarder on a loopback port and
// returns its address.
func startResolver(t *testing.T, tables pipeline.Tables, upstreamAddr string) string {
	t.Helper()
	rm := pipeline.NewMetrics(nil) // counted, not exported: nothing here reads them
	ucfg := upstream.Config{Servers: []string{upstreamAddr}}
	ucfg.SetDefaults()
	fwd, err := upstream.New(ucfg, upstream.NewMetrics(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	blog := logs.NewBlockLog(nil, nil, nil)
	bcfg := pipeline.BlockingConfig{}
	bcfg.SetDefaults()
	guard, err := pipeline.NewGuard(pipeline.GuardConfig{Clock: clock.Real{}}, pipeline.NewPolicy(bcfg, tables, fwd, blog, rm), rm)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}}
	lcfg.SetDefaults()
	srv, err := resolver.NewServer(lcfg, pipeline.New(guard, pipeline.Options{Metrics: rm}), rm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		blog.Close()
	})
	return srv.Addrs()[0].String()
}
