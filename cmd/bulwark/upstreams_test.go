package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver/config"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// In recursive mode, conditional domains still go to their servers and
// everything else is resolved from the (simulated) root.
func TestRecursiveModeKeepsConditionalForwarding(t *testing.T) {
	root := dnstest.Start(t, dnstest.WithAddr("127.0.0.1:0"), dnstest.WithZone("."))
	corp := dnstest.Start(t, dnstest.WithZone("corp.internal."), dnstest.WithWildcard())
	rootAddr := netip.MustParseAddrPort(root.Addr)
	yaml := fmt.Sprintf(`listen:
  dns: ["127.0.0.1:0"]
upstream:
  mode: recursive
  conditional:
    - domains: ["corp.internal"]
      servers: ["%s"]
recursion:
  root_hints: ["%s"]
  port: %d
  query_loopback: true
  ipv6: false
dnssec:
  validate: false # the simulated root is unsigned
`, corp.Addr, rootAddr.Addr(), rootAddr.Port())
	_, back := backendFor(t, yaml)
	ask := func(name string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		resp, err := back.Resolve(context.Background(), contract.NewRequest(m, netip.MustParseAddrPort("127.0.0.1:1"), contract.ProtoUDP))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return resp
	}
	if resp := ask("host.corp.internal."); len(resp.Answer) != 1 {
		t.Fatalf("conditional domain: %v", resp)
	}
	if resp := ask("www.example."); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("recursion from the root: rcode %s", dns.RcodeToString[resp.Rcode])
	}
	for _, q := range root.Queries() {
		if strings.Contains(strings.ToLower(q.Name), "corp") {
			t.Errorf("the root was asked about %s", q.Name)
		}
	}
	if corp.Count() != 1 || root.Count() == 0 {
		t.Errorf("corp asked %d times, root %d", corp.Count(), root.Count())
	}
}

func TestRemovedUpstreams(t *testing.T) {
	parse := func(servers, conditional string) *config.Config {
		y := "listen:\n  dns: [\"127.0.0.1:0\"]\nupstream:\n  servers: [" + servers + "]\n"
		if conditional != "" {
			y += "  conditional:\n    - domains: [corp.internal]\n      servers: [" + conditional + "]\n"
		}
		cfg, err := config.Parse([]byte(y), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	old := parse(`"192.0.2.1", "192.0.2.2"`, `"10.0.0.53"`)
	cur := parse(`"192.0.2.2", "192.0.2.3"`, "")
	got := removedUpstreams(old, cur)
	if strings.Join(got, " ") != "192.0.2.1 10.0.0.53" {
		t.Errorf("removed %v, want 192.0.2.1 and 10.0.0.53", got)
	}
	if got := removedUpstreams(old, nil); len(got) != 3 {
		t.Errorf("at shutdown: %v, want all three", got)
	}
}
