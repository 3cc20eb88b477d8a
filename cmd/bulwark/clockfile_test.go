package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/config"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// TestClockFile: with testing.clock_file, moving the time in the file
// (as libfaketime-driven test suites do) expires the cache's answers and,
// in recursive mode, the resolver's delegation cache, without waiting
// (issue 20, recursion fix 8).
func TestClockFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		section string // upstream and recursion sections; %s is the server
		// reprime: moving the clock also expires the root's NS set.
		reprime bool
	}{
		{"forward", "upstream:\n  servers: [\"%s\"]\n", false},
		{"recursive", "upstream:\n  mode: recursive\nrecursion:\n  root_hints: [\"%s\"]\n  port: %d\n  query_loopback: true\n  ipv6: false\n" +
			"dnssec:\n  validate: false # the simulated root is unsigned\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := dnstest.Start(t, dnstest.WithZone("."))
			root.Add(". 3600 IN NS a.root.test.", "a.root.test. 3600 IN A 127.0.0.1", "www.example. 300 IN A 192.0.2.1")
			ap := netip.MustParseAddrPort(root.Addr)
			file := t.TempDir() + "/faketime"
			setTime := func(s string) {
				writeFile(t, file, s+"\n")
			}
			setTime("@2030-01-01 00:00:00")
			section := fmt.Sprintf(tt.section, root.Addr)
			if tt.reprime {
				section = fmt.Sprintf(tt.section, ap.Addr(), ap.Port())
			}
			cfg, back := backendFor(t, "listen:\n  dns: [\"127.0.0.1:0\"]\n"+section+"testing:\n  clock_file: "+file+"\n")
			c := cache.New(cfg.Cache, back, back.clock, nil, nil)
			t.Cleanup(c.Close)
			ask := func() {
				t.Helper()
				m := new(dns.Msg).SetQuestion("www.example.", dns.TypeA)
				resp, err := c.Resolve(context.Background(), contract.NewRequest(m, netip.MustParseAddrPort("127.0.0.1:1"), contract.ProtoUDP))
				if err != nil || len(resp.Answer) != 1 {
					t.Fatalf("www.example.: %v %v", resp, err)
				}
			}
			if now := back.clock.Now(); now.Year() != 2030 {
				t.Fatalf("the clock says %v, not the file's time", now)
			}
			ask()
			first := root.Count()
			ask()
			if n := root.Count(); n != first {
				t.Fatalf("a cached answer went upstream (%d queries, then %d)", first, n)
			}
			setTime("@2030-01-01 02:00:00")
			moved := time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC)
			for i := 0; i < 500 && back.clock.Now().Before(moved); i++ {
				time.Sleep(10 * time.Millisecond) // the file is polled every 50ms of real time
			}
			root.Reset()
			ask()
			var got []string
			for _, q := range root.Queries() {
				got = append(got, strings.ToLower(q.Name)+" "+dns.Type(q.Type).String())
			}
			if !slices.Contains(got, "www.example. A") {
				t.Errorf("two hours later by the file the answer was still cached; upstream saw %q", got)
			}
			if tt.reprime && !slices.Contains(got, ". NS") {
				t.Errorf("the root NS set (TTL 1h) was not asked again: %q", got)
			}
		})
	}
}

// backendFor parses a whole config and builds its backend, closed when
// the test ends.
func backendFor(t testing.TB, yaml string) (*config.Config, *backend) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	back, err := newBackend(cfg, newProcessMetrics(time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.close)
	return cfg, back
}
