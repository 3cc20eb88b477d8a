package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

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
