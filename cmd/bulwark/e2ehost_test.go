package main

import (
	"fmt"
	"strings"
	"testing"
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

// config is a serve config listening on h and forwarding to upstream,
// with the test's own sections (body) and the block log off.
func (h e2eHost) config(upstream, body string) string {
	return h.listen() + fmt.Sprintf("upstream:\n  servers: [%q]\n", upstream) + body + "log:\n  blocked: \"off\"\n"
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
