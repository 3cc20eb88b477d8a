package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/need"
)

// startUnbound runs Unbound as a recursive resolver over the BIND tree,
// validating against the tree's root or (validate false) not at all.
func startUnbound(t *testing.T, bt *bindTree, validate bool) string {
	t.Helper()
	need.Tool(t, "unbound", "unbound")
	dir := t.TempDir()
	port := freePort(t)
	modules, anchor := "iterator", ""
	if validate {
		modules, anchor = "validator iterator", fmt.Sprintf("  trust-anchor-file: %q\n", bt.anchor)
	}
	conf := unboundConf(port, dir, modules, anchor+"  # test. is one of Unbound's built-in empty zones (RFC 6761).\n  local-zone: \"test.\" nodefault\n")
	// Every zone is a stub at named's port: the tree's NS records name
	// port 53, which Unbound would otherwise use once it learns them.
	for _, z := range bt.zones {
		conf += fmt.Sprintf("stub-zone:\n  name: %q\n  stub-addr: 127.0.0.1@%d\n", z, bt.port)
	}
	cfg := filepath.Join(dir, "unbound.conf")
	writeFile(t, cfg, conf)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startDaemon(t, "unbound", []string{"-d", "-c", cfg}, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// unboundConf is the server clause of a test Unbound on 127.0.0.1:port,
// in the foreground, logging to stderr, in dir, with modules and more
// server lines; the caller appends its zones.
func unboundConf(port int, dir, modules, server string) string {
	return fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-ip6: no
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: %q
  pidfile: "%s/unbound.pid"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: %q
  num-threads: 1
  verbosity: 1
%sremote-control:
  control-enable: no
`, port, dir, dir, modules, server)
}

// forwardingBulwark starts the binary forwarding to upstream, with the
// given dnssec section.
func forwardingBulwark(t *testing.T, upstream, dnssecSection string) int {
	t.Helper()
	h := newE2EHost(t)
	dir := writeFiles(t, map[string]string{"lists/block.txt": "blocked.secure.test\n"})
	cfg := h.listen() + fmt.Sprintf(`upstream:
  servers: [%q]
%s
blocklists:
  - name: block
    source: "file:lists/block.txt"
`, upstream, dnssecSection)
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	writeFile(t, cfgPath, cfg)
	startBulwark(t, h.admin, "-config", cfgPath)
	return h.port
}

type digCase struct {
	name string
	args []string
	want []string
	not  []string
}

func runDigCases(t *testing.T, digPath string, port int, cases []digCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := dig(t, digPath, port, c.args...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("dig %v: output lacks %q:\n%s", c.args, w, out)
				}
			}
			for _, w := range c.not {
				if strings.Contains(out, w) {
					t.Errorf("dig %v: output has %q:\n%s", c.args, w, out)
				}
			}
		})
	}
}

const (
	digAD   = "flags: qr rd ra ad;"
	digNoAD = "flags: qr rd ra;"
)

// TestBinaryDNSSECForwarding: in forwarding mode with validate: true,
// Bulwark validates what Unbound returns, whether Unbound validates too
// or not: the verdicts, and the EDEs naming them, are Bulwark's own.
func TestBinaryDNSSECForwarding(t *testing.T) {
	digPath := needDig(t)
	bt := standardTree(t)
	section := fmt.Sprintf("dnssec:\n  validate: true\n  trust_anchor_file: %q\n  nsec3_max_iterations: 10", bt.anchor)
	cases := []digCase{
		{"secure answer with AD", []string{"+dnssec", "www.secure.test", "A"}, []string{"status: NOERROR", digAD, "192.0.2.1"}, nil},
		{"NSEC3 wildcard", []string{"+dnssec", "x.wild.nsec3.test", "A"}, []string{"status: NOERROR", digAD, "192.0.2.10"}, nil},
		{"NSEC NXDOMAIN", []string{"+dnssec", "nope.secure.test", "A"}, []string{"status: NXDOMAIN", digAD}, nil},
		{"insecure delegation", []string{"+dnssec", "www.insecure.test", "A"}, []string{"status: NOERROR", digNoAD, "192.0.2.5"}, nil},
		{"opt-out insecure delegation", []string{"+dnssec", "www.child.optout.test", "A"}, []string{"status: NOERROR", digNoAD, "192.0.2.4"}, nil},
		{"bogus signature", []string{"+dnssec", "www.bogus.test", "A"}, []string{"status: SERVFAIL", "EDE: 6 (DNSSEC Bogus)"}, []string{"203.0.113.66"}},
		{"CD on the bogus zone", []string{"+dnssec", "+cd", "www.bogus.test", "A"}, []string{"status: NOERROR", "203.0.113.66"}, []string{" ad;"}},
		{"expired RRSIG", []string{"+dnssec", "www.expired.test", "A"}, []string{"status: SERVFAIL", "EDE: 7"}, nil},
		{"DS not matching", []string{"+dnssec", "www.badds.test", "A"}, []string{"status: SERVFAIL", "EDE: 9"}, nil},
		{"unsupported algorithm", []string{"+dnssec", "www.unsupported.test", "A"}, []string{"status: NOERROR", digNoAD, "EDE: 1"}, nil},
		{"blocked before validation", []string{"+dnssec", "blocked.secure.test", "A"}, []string{"status: NXDOMAIN", "EDE: 15"}, nil},
	}
	for _, up := range []struct {
		name     string
		validate bool
	}{{"validating Unbound", true}, {"non-validating Unbound", false}} {
		t.Run(up.name, func(t *testing.T) {
			port := forwardingBulwark(t, startUnbound(t, bt, up.validate), section)
			runDigCases(t, digPath, port, cases)
		})
	}

	// Validation is off by default in forwarding mode: the upstream is
	// trusted, as before (a non-validating one passes the forgery on).
	t.Run("default off", func(t *testing.T) {
		port := forwardingBulwark(t, startUnbound(t, bt, false), "")
		runDigCases(t, digPath, port, []digCase{
			{"bogus data passed on", []string{"+dnssec", "www.bogus.test", "A"}, []string{"status: NOERROR", "203.0.113.66"}, []string{" ad;"}},
		})
	})
}

// TestBinaryDNSSECStrippingUpstream: an upstream that drops signatures
// (a fake one, answering from unsigned data) makes answers for signed
// zones bogus, not silently insecure.
func TestBinaryDNSSECStrippingUpstream(t *testing.T) {
	digPath := needDig(t)
	up := dnstest.Start(t, dnstest.WithWildcard())
	anchor := writeFiles(t, map[string]string{"root.ds": ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"})
	port := forwardingBulwark(t, up.Addr, fmt.Sprintf("dnssec:\n  validate: true\n  trust_anchor_file: %q", filepath.Join(anchor, "root.ds")))
	runDigCases(t, digPath, port, []digCase{
		{"signatures stripped", []string{"+dnssec", "www.example.com", "A"}, []string{"status: SERVFAIL", "EDE: 9"}, nil},
	})
}
