package resolver_test

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
)

// TestDoHGetSizeLimit: a GET's dns parameter is bounded as a POST body is
// (one DNS message, 64 KiB); a larger one is refused with 414 before it
// reaches the chain, and an ordinary GET is still answered.
func TestDoHGetSizeLimit(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	e, _, doh := startEncrypted(t, cert, pipeline.GuardConfig{})
	hc := dohClient(cert)
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	w, _ := m.Pack()
	for _, tc := range []struct {
		name   string
		pad    int // junk bytes after the query
		status int
	}{
		{"ordinary", 0, http.StatusOK},
		{"just under 64 KiB", dns.MaxMsgSize - len(w), http.StatusOK},
		{"one byte over", dns.MaxMsgSize - len(w) + 1, http.StatusRequestURITooLong},
		{"660 KB", 660_000, http.StatusRequestURITooLong},
	} {
		before := e.ups[0].Count()
		q := base64.RawURLEncoding.EncodeToString(append(w, make([]byte, tc.pad)...))
		resp, err := hc.Get("https://" + doh + "/dns-query?dns=" + q)
		switch {
		case err != nil && tc.status == http.StatusOK:
			t.Fatalf("%s: %.200v", tc.name, err)
		case err != nil:
			// Past the server's header limit (advertised in HTTP/2
			// SETTINGS), the client itself gives up: refused too.
		default:
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: HTTP %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
		}
		if tc.status != http.StatusOK && e.ups[0].Count() != before {
			t.Errorf("%s: the oversized query reached the upstream", tc.name)
		}
	}
}

// TestIPv6WildcardIsIPv6Only: "[::]:P" serves IPv6 only (IPV6_V6ONLY, as
// BIND and Unbound do), so that it can sit beside "0.0.0.0:P"; an IPv4
// client of that port reaches nothing. The sample configs list both
// wildcards for that reason (cmd/bulwark TestSampleWildcardsListBothFamilies).
func TestIPv6WildcardIsIPv6Only(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{DNS: []string{fmt.Sprintf("[::]:%d", port)}}})
	e.addr = fmt.Sprintf("[::1]:%d", port)
	for _, proto := range []string{"udp", "tcp"} {
		if resp := e.query(t, proto, "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
			t.Errorf("%s over IPv6: %s", proto, dns.RcodeToString[resp.Rcode])
		}
	}
	v4 := fmt.Sprintf("127.0.0.1:%d", port)
	if c, err := net.Dial("tcp4", v4); err == nil {
		c.Close()
		t.Errorf("TCP %s accepted a connection: [::] is dual-stack", v4)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	if _, _, err := (&dns.Client{Net: "udp4", Timeout: 2 * time.Second}).Exchange(m, v4); err == nil {
		t.Errorf("UDP %s answered: [::] is dual-stack", v4)
	}
}

// dialFrom connects to addr from the loopback address local (127.0.0.x).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	return c
}

// TestACLCheckedAtAccept: clients outside the ACL fill every TCP slot and
// keep sending queries; each connection is answered REFUSED once and
// closed, so it never holds a slot, and an allowed client is served.
func TestACLCheckedAtAccept(t *testing.T) {
	const slots = 10
	e := startEnv(t, phishingTable(t), envOpts{
		guard: pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: []string{"127.0.0.1/32"}}},
		listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, MaxTCPConns: slots,
			TCPIdleTimeout: time.Minute, TCPReadTimeout: 300 * time.Millisecond},
	})
	var attackers []net.Conn
	defer func() {
		for _, c := range attackers {
			c.Close()
		}
	}()
	for i := range slots {
		c := dialFrom(t, "127.0.0.2", e.addr)
		attackers = append(attackers, c)
		resp, err := tcpQuery(c, "www.example.org")
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		if resp.Rcode != dns.RcodeRefused {
			t.Errorf("attacker %d: %s, want REFUSED", i, dns.RcodeToString[resp.Rcode])
		}
	}
	// Every refused connection is closed by the server, even while its
	// client keeps asking (each query used to restart the idle timer).
	for i, c := range attackers {
		_, _ = tcpQuery(c, "www.example.org")
		if !closedByServer(c, 10*time.Second) {
			t.Errorf("attacker connection %d still open after its REFUSED", i)
		}
	}
	if resp := e.query(t, "tcp", "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
		t.Errorf("allowed client over TCP: %s", dns.RcodeToString[resp.Rcode])
	}
	// dig, as an operator checks it.
	if _, err := exec.LookPath("dig"); err == nil {
		host, port, _ := net.SplitHostPort(e.addr)
		out, err := exec.Command("dig", "+tcp", "+tries=1", "+time=5", "-p", port, "@"+host, "www.example.org").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "status: NOERROR") {
			t.Errorf("dig +tcp from 127.0.0.1: %v\n%s", err, out)
		}
	}
}

// TestIdleRefusedConnectionClosed: a connection from outside the ACL that
// sends nothing is closed after tcp_read_timeout (+1s), not after the
// idle timeout.
func TestIdleRefusedConnectionClosed(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{
		guard: pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: []string{"127.0.0.1/32"}}},
		listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0"},
			TCPIdleTimeout: 10 * time.Minute, TCPReadTimeout: 200 * time.Millisecond},
	})
	c := dialFrom(t, "127.0.0.2", e.addr)
	defer c.Close()
	if !closedByServer(c, time.Minute) { // bounded by the test, far above 1.2s
		t.Error("an idle connection from outside the ACL was kept for a minute")
	}
}

// TestPerClientConnectionLimit: one client cannot hold more than
// max_tcp_conns_per_client connections; the excess is closed at once and
// other clients are served.
func TestPerClientConnectionLimit(t *testing.T) {
	const per = 4
	e := startEnv(t, phishingTable(t), envOpts{
		listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, MaxTCPConnsPerClient: per, TCPIdleTimeout: time.Minute},
	})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range per {
		c := dialFrom(t, "127.0.0.3", e.addr)
		held = append(held, c)
		if _, err := tcpQuery(c, "www.example.org"); err != nil {
			t.Fatal(err)
		}
	}
	extra := dialFrom(t, "127.0.0.3", e.addr)
	defer extra.Close()
	if !closedByServer(extra, 10*time.Second) {
		t.Errorf("connection %d from one client was kept (limit %d)", per+1, per)
	}
	other := dialFrom(t, "127.0.0.4", e.addr)
	defer other.Close()
	if _, err := tcpQuery(other, "www.example.org"); err != nil {
		t.Errorf("another client: %v", err)
	}
	// The slot comes back when a connection closes.
	held[0].Close()
	held = held[1:]
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		c := dialFrom(t, "127.0.0.3", e.addr)
		_, err := tcpQuery(c, "www.example.org")
		c.Close()
		if ok = err == nil; !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !ok {
		t.Error("the per-client slot was not given back")
	}
}

// TestStreamLimitDefaults: unset, a TCP/DoT connection carries at most
// 10000 queries and a client holds at most 32 connections; -1 lifts the
// query limit.
func TestStreamLimitDefaults(t *testing.T) {
	var c resolver.ListenConfig
	c.SetDefaults()
	if c.TCPMaxQueries != resolver.DefaultTCPMaxQueries || c.MaxTCPConnsPerClient != resolver.DefaultMaxTCPConnsPerClient {
		t.Errorf("defaults tcp_max_queries %d, max_tcp_conns_per_client %d", c.TCPMaxQueries, c.MaxTCPConnsPerClient)
	}
	c = resolver.ListenConfig{DNS: []string{"127.0.0.1:53"}, TCPMaxQueries: -1}
	c.SetDefaults()
	if errs := c.Validate("listen"); len(errs) != 0 || c.TCPMaxQueries != -1 {
		t.Errorf("tcp_max_queries -1: %v (kept %d)", errs, c.TCPMaxQueries)
	}
	c.TCPMaxQueries, c.MaxTCPConnsPerClient = -2, -1
	if errs := c.Validate("listen"); len(errs) != 2 {
		t.Errorf("tcp_max_queries -2, max_tcp_conns_per_client -1: %v, want 2 errors", errs)
	}
}

// TestEncryptedRefusedConnectionsClosed: over DoT and DoH too, a client
// outside the ACL gets its REFUSED and then loses the connection.
func TestEncryptedRefusedConnectionsClosed(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	_, dot, doh := startEncrypted(t, cert, pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: []string{"10.0.0.0/8"}}})
	c, err := tls.Dial("tcp", dot, cert.clientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ { // the first is answered, the connection then closes
		resp, err := tcpQuery(c, "www.example.org")
		if err != nil {
			break
		}
		if i > 0 {
			t.Fatalf("DoT query %d from outside the ACL answered %s on the same connection", i+1, dns.RcodeToString[resp.Rcode])
		}
		if resp.Rcode != dns.RcodeRefused {
			t.Errorf("DoT from outside the ACL: %s", dns.RcodeToString[resp.Rcode])
		}
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	resp, hr := dohQuery(t, dohClient(cert), doh, http.MethodPost, m)
	if resp == nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("DoH from outside the ACL: %v", resp)
	}
	if hr != nil && !hr.Close && hr.ProtoMajor == 1 {
		t.Error("DoH/1.1 answer to a client outside the ACL keeps the connection")
	}
}
