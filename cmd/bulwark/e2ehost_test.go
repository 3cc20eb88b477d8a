package main

import (
	"fmt"
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

// config is a serve config listening on h and forwarding to upstream,
// with the test's own sections (body) and the block log off.
func (h e2eHost) config(upstream, body string) string {
	return fmt.Sprintf("listen:\n  dns: [\"127.0.0.1:%d\"]\n  admin: %q\nupstream:\n  servers: [%q]\n", h.port, h.admin, upstream) +
		body + "log:\n  blocked: \"off\"\n"
}
