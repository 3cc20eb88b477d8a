package resolver_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/proxyproto"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// balancerAddr is the source address the balancers of these tests send
// from, and the only network Bulwark trusts for PROXY headers; clients
// use 127.0.0.2 and up, as distinct real clients.
const balancerAddr = "127.0.0.9"

func proxyListen(dns, tls, https bool, cert testCert) resolver.ListenConfig {
	lc := resolver.ListenConfig{ProxyProtocol: proxyproto.Config{Trusted: []string{balancerAddr + "/32"}}}
	if dns {
		lc.DNS = []string{"127.0.0.1:0"}
	}
	if tls {
		lc.TLS = []string{"127.0.0.1:0"}
	}
	if https {
		lc.HTTPS = []string{"127.0.0.1:0"}
	}
	if tls || https {
		lc.CertFile, lc.KeyFile = cert.certFile, cert.keyFile
	}
	return lc
}

// startDaemon runs a balancer in the foreground until the test ends.
func startDaemon(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), out.String())
		}
	})
}

// run runs a client tool and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
	return string(out)
}

// eventually retries f (bounded) until it returns nil, for a balancer that
// marks its backend up only after a health check.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	for range 100 {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// startDnsdist runs dnsdist on a free loopback port in front of backend,
// with PROXY v2 from balancerAddr; checkName is its health check's name
// ("" for dnsdist's default). It returns the port.
func startDnsdist(t *testing.T, dnsdist, backend, checkName string) int {
	t.Helper()
	port := dnstest.FreePort(t)
	check := ""
	if checkName != "" {
		check = fmt.Sprintf(", checkName=%q", checkName)
	}
	conf := filepath.Join(t.TempDir(), "dnsdist.conf")
	// No security poll: the test sends nothing off loopback.
	if err := os.WriteFile(conf, fmt.Appendf(nil, `setSecurityPollSuffix("")
setLocal("127.0.0.1:%d")
newServer{address="%s", useProxyProtocol=true, source="%s", checkInterval=1%s}
`, port, backend, balancerAddr, check), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, dnsdist, "--supervised", "--disable-syslog", "-C", conf)
	return port
}

// startHAProxyDoT runs HAProxy in TCP mode on a free loopback port in
// front of the DoT address dot, with send-proxy-v2 from balancerAddr, and
// returns the port once it accepts connections.
func startHAProxyDoT(t *testing.T, haproxy, dot string) int {
	t.Helper()
	port := dnstest.FreePort(t)
	conf := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend dot
    bind 127.0.0.1:%d
    default_backend bulwark
backend bulwark
    server b1 %s send-proxy-v2 source %s
`, port, dot, balancerAddr), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, haproxy, "-db", "-f", conf)
	eventually(t, "haproxy never listened", func() error {
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err
	})
	return port
}

// clientsOf counts the block events by client and protocol.
func clientsOf(events []logs.BlockEvent) map[string]int {
	out := map[string]int{}
	for _, ev := range events {
		out[ev.Client+" "+ev.Protocol+" "+ev.QName]++
	}
	return out
}

// TestProxyProtocolBehindDnsdist puts a real dnsdist with
// useProxyProtocol in front of Bulwark: two clients from different
// loopback addresses query through it over UDP and TCP, and Bulwark's
// ACL and block log see each client, not the balancer.
func TestProxyProtocolBehindDnsdist(t *testing.T) {
	dnsdist := need.Tool(t, "dnsdist", "dnsdist")
	dig := need.Tool(t, "dig", "bind9-dnsutils")
	lc := proxyListen(true, false, false, testCert{})
	// Only the two clients may query: dnsdist's own address is not in the
	// ACL, so an answer proves the ACL saw the client from the header.
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: lc,
		guard: pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: []string{"127.0.0.2", "127.0.0.3"}}}})
	port := startDnsdist(t, dnsdist, e.addr, "")
	digAs := func(client string, tcp bool, name string) string {
		args := []string{"-b", client, "@127.0.0.1", "-p", fmt.Sprint(port), "+tries=1", "+time=3", name, "A"}
		if tcp {
			args = append(args, "+tcp")
		}
		return run(t, dig, args...)
	}
	// dnsdist marks the backend up after its first health check (a LOCAL
	// header, which Bulwark accepts).
	eventually(t, "dnsdist never forwarded", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, dig, "-b", "127.0.0.2", "@127.0.0.1", "-p", fmt.Sprint(port), "+tries=1", "+time=1", "www.example.org", "A").CombinedOutput()
		if !strings.Contains(string(out), "status: NOERROR") {
			return fmt.Errorf("last answer:\n%s", out)
		}
		return nil
	})
	for _, tcp := range []bool{false, true} {
		for _, client := range []string{"127.0.0.2", "127.0.0.3"} {
			if out := digAs(client, tcp, "evil.example"); !strings.Contains(out, "status: NXDOMAIN") {
				t.Errorf("%s tcp=%v evil.example: want NXDOMAIN:\n%s", client, tcp, out)
			}
			if out := digAs(client, tcp, "www.example.org"); !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, dnstest.WildcardA) {
				t.Errorf("%s tcp=%v www.example.org: want the upstream's answer:\n%s", client, tcp, out)
			}
		}
		// A third client, outside the ACL, is refused by Bulwark itself.
		if out := digAs("127.0.0.4", tcp, "www.example.org"); !strings.Contains(out, "status: REFUSED") {
			t.Errorf("127.0.0.4 tcp=%v: want REFUSED (outside the ACL):\n%s", tcp, out)
		}
	}
	e.blog.Close()
	got := clientsOf(e.log.events(t))
	want := map[string]int{
		"127.0.0.2 udp evil.example": 1, "127.0.0.3 udp evil.example": 1,
		"127.0.0.2 tcp evil.example": 1, "127.0.0.3 tcp evil.example": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log clients = %v, want %v", got, want)
	}
	for _, tr := range []string{"udp", "tcp"} {
		if v := metricValue(t, e.reg, "bulwark_proxy_protocol_headers_total", "transport", tr, "result", "accepted"); v < 1 {
			t.Errorf("%s headers accepted = %v", tr, v)
		}
		for _, r := range []string{"dropped", "refused"} {
			if v := metricValue(t, e.reg, "bulwark_proxy_protocol_headers_total", "transport", tr, "result", r); v != 0 {
				t.Errorf("%s headers %s = %v, want 0", tr, r, v)
			}
		}
	}
}

// TestProxyProtocolBehindHAProxyDoT puts a real HAProxy in TCP mode with
// send-proxy-v2 in front of Bulwark's DoT listener: TLS runs end to end
// between kdig and Bulwark, and the block log shows each kdig's address.
func TestProxyProtocolBehindHAProxyDoT(t *testing.T) {
	haproxy := need.Tool(t, "haproxy", "haproxy")
	kdig := need.Tool(t, "kdig", "knot-dnsutils")
	cert := newTestCert(t, t.TempDir())
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: proxyListen(true, true, false, cert)})
	dot := e.srv.StreamAddrs()[query.ProtoDoT][0].String()
	port := startHAProxyDoT(t, haproxy, dot)
	kdigAs := func(client, name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kdig, "-b", client, "@127.0.0.1", "-p", fmt.Sprint(port), "+tls",
			"+tls-ca="+cert.caFile, "+tls-hostname=localhost", "+timeout=3", "+retry=0", name, "A").CombinedOutput()
		return string(out), err
	}
	for _, client := range []string{"127.0.0.2", "127.0.0.3"} {
		out, err := kdigAs(client, "evil.example")
		if err != nil || !strings.Contains(out, "NXDOMAIN") || !strings.Contains(out, "TLS") {
			t.Errorf("kdig -b %s evil.example: want NXDOMAIN over TLS (%v):\n%s", client, err, out)
		}
		out, err = kdigAs(client, "www.example.org")
		if err != nil || !strings.Contains(out, dnstest.WildcardA) {
			t.Errorf("kdig -b %s www.example.org: want the upstream's answer (%v):\n%s", client, err, out)
		}
	}
	e.blog.Close()
	got := clientsOf(e.log.events(t))
	want := map[string]int{"127.0.0.2 dot evil.example": 1, "127.0.0.3 dot evil.example": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log clients = %v, want %v", got, want)
	}
	if v := metricValue(t, e.reg, "bulwark_proxy_protocol_headers_total", "transport", "tcp", "result", "accepted"); v < 2 {
		t.Errorf("tcp headers accepted = %v, want at least 2", v)
	}
}

// proxyHeader is a v2 header naming client, as a balancer sends it.
func proxyHeader(client string, datagram bool) []byte {
	return proxyproto.AppendV2(nil, proxyproto.Header{Command: proxyproto.Proxy, Datagram: datagram,
		Source: netip.MustParseAddrPort(client), Destination: netip.MustParseAddrPort("127.0.0.1:53")})
}

func packQuery(t testing.TB, name string) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// udpFrom sends pkt to addr from the loopback address src and returns the
// answer, or nil when none came (the wait is only how long a dropped
// packet is given to be answered wrongly).
func udpFrom(t *testing.T, src, addr string, pkt []byte) *dns.Msg {
	t.Helper()
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	return m
}

// tcpFrom opens a TCP connection to addr from src and writes prefix.
func tcpFrom(t *testing.T, src, addr string, prefix []byte) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(prefix) > 0 {
		if _, err := c.Write(prefix); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func waitMetric(t *testing.T, e *env, transport, result string, want float64) {
	t.Helper()
	eventually(t, transport+" "+result, func() error {
		if v := metricValue(t, e.reg, "bulwark_proxy_protocol_headers_total", "transport", transport, "result", result); v != want {
			return fmt.Errorf("bulwark_proxy_protocol_headers_total{%s,%s} = %v, want %v", transport, result, v, want)
		}
		return nil
	})
}

// TestProxyProtocolSpoofing: a header from outside the trusted networks
// is refused and a trusted balancer's packet without one is dropped, on
// every transport; with a header, the ACL and the block log use the client
// it names, including DoT and DoH.
func TestProxyProtocolSpoofing(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: proxyListen(true, true, true, cert)})
	streams := e.srv.StreamAddrs()
	tcpAddr := streams[query.ProtoTCP][0].String()
	dotAddr := streams[query.ProtoDoT][0].String()
	dohAddr := streams[query.ProtoDoH][0].String()
	evil := packQuery(t, "evil.example")

	// UDP.
	if m := udpFrom(t, "127.0.0.5", e.addr, append(proxyHeader("127.0.0.2:5000", true), evil...)); m != nil {
		t.Errorf("untrusted UDP with a header was answered: %v", m)
	}
	waitMetric(t, e, "udp", "refused", 1)
	if m := udpFrom(t, balancerAddr, e.addr, evil); m != nil {
		t.Errorf("trusted UDP without a header was answered: %v", m)
	}
	waitMetric(t, e, "udp", "dropped", 1)
	if m := udpFrom(t, balancerAddr, e.addr, append(proxyHeader("10.1.2.3:5000", true), evil...)); m == nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("trusted UDP with a header: %v, want NXDOMAIN", m)
	}
	// 198.51.100.7 is outside the default ACL: Bulwark refuses the client,
	// not the balancer.
	if m := udpFrom(t, balancerAddr, e.addr, append(proxyHeader("198.51.100.7:5000", true), evil...)); m == nil || m.Rcode != dns.RcodeRefused {
		t.Errorf("header naming a client outside the ACL: %v, want REFUSED", m)
	}
	// A client that simply talks DNS from elsewhere is served as before.
	if m := udpFrom(t, "127.0.0.5", e.addr, evil); m == nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("plain UDP from an untrusted client: %v, want NXDOMAIN", m)
	}

	// TCP: the connection is closed without an answer.
	frame := func(q []byte) []byte { return append([]byte{byte(len(q) >> 8), byte(len(q))}, q...) }
	for _, tc := range []struct {
		name, src string
		send      []byte
		result    string
	}{
		{"untrusted TCP with a header", "127.0.0.5", append(proxyHeader("127.0.0.2:5000", false), frame(evil)...), "refused"},
		{"trusted TCP without a header", balancerAddr, frame(evil), "dropped"},
	} {
		c := tcpFrom(t, tc.src, tcpAddr, tc.send)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 512)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: read %d bytes, %v; want the connection closed", tc.name, n, err)
		}
		waitMetric(t, e, "tcp", tc.result, 1)
	}
	dc := &dns.Conn{Conn: tcpFrom(t, balancerAddr, tcpAddr, proxyHeader("10.1.2.4:5000", false))}
	if err := dc.WriteMsg(mustMsg(t, evil)); err != nil {
		t.Fatal(err)
	}
	if m, err := dc.ReadMsg(); err != nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("trusted TCP with a header: %v %v, want NXDOMAIN", m, err)
	}

	// DoT: the header precedes the TLS handshake.
	tc := tls.Client(tcpFrom(t, balancerAddr, dotAddr, proxyHeader("10.1.2.5:5000", false)), cert.clientTLS())
	dc = &dns.Conn{Conn: tc}
	if err := dc.WriteMsg(mustMsg(t, evil)); err != nil {
		t.Fatal(err)
	}
	if m, err := dc.ReadMsg(); err != nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("DoT with a header: %v %v, want NXDOMAIN", m, err)
	}
	// An untrusted DoT client with a header never gets to the handshake.
	bad := tls.Client(tcpFrom(t, "127.0.0.5", dotAddr, proxyHeader("10.1.2.9:5000", false)), cert.clientTLS())
	_ = bad.SetDeadline(time.Now().Add(10 * time.Second))
	if err := bad.Handshake(); err == nil {
		t.Error("DoT handshake succeeded after an untrusted PROXY header")
	}

	// DoH: the client address reaches the handler through the connection.
	tr := &http.Transport{TLSClientConfig: cert.clientTLS(), ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return tcpFrom(t, balancerAddr, addr, proxyHeader("10.1.2.6:5000", false)), nil
		}}
	defer tr.CloseIdleConnections()
	m, resp := dohQuery(t, &http.Client{Transport: tr, Timeout: 5 * time.Second}, dohAddr, http.MethodPost, mustMsg(t, evil))
	if m == nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("DoH with a header: %v (HTTP %v), want NXDOMAIN", m, resp)
	}

	e.blog.Close()
	got := clientsOf(e.log.events(t))
	want := map[string]int{
		"10.1.2.3 udp evil.example": 1, "127.0.0.5 udp evil.example": 1, "10.1.2.4 tcp evil.example": 1,
		"10.1.2.5 dot evil.example": 1, "10.1.2.6 doh evil.example": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log clients = %v, want %v", got, want)
	}
	waitMetric(t, e, "tcp", "refused", 2) // the TCP and the DoT attempt
}

func mustMsg(t *testing.T, wire []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestProxyProtocolReload: trusting a balancer is a reload away, on the
// sockets already open (UDP and TCP), and untrusting it again restores
// plain DNS from that address.
func TestProxyProtocolReload(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	tcpAddr := e.srv.StreamAddrs()[query.ProtoTCP][0].String()
	evil := packQuery(t, "evil.example")
	withHeader := append(proxyHeader("10.1.2.3:5000", true), evil...)
	reload := func(trusted ...string) {
		t.Helper()
		cfg := resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, ProxyProtocol: proxyproto.Config{Trusted: trusted}}
		cfg.SetDefaults()
		if errs := cfg.Validate("listen"); len(errs) > 0 {
			t.Fatal(errs)
		}
		if err := e.srv.Reload(cfg, pipeline.New(chainFor(t, e, phishingTable(t)), pipeline.Options{Metrics: e.rm})); err != nil {
			t.Fatal(err)
		}
	}
	// Off: a header is just bytes that are not a DNS query.
	if m := udpFrom(t, balancerAddr, e.addr, evil); m == nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("before: plain query %v, want NXDOMAIN", m)
	}
	reload(balancerAddr)
	if m := udpFrom(t, balancerAddr, e.addr, withHeader); m == nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("trusted after reload: %v, want NXDOMAIN", m)
	}
	if m := udpFrom(t, balancerAddr, e.addr, evil); m != nil {
		t.Errorf("trusted after reload, no header: answered %v", m)
	}
	dc := &dns.Conn{Conn: tcpFrom(t, balancerAddr, tcpAddr, proxyHeader("10.1.2.4:5000", false))}
	if err := dc.WriteMsg(mustMsg(t, evil)); err != nil {
		t.Fatal(err)
	}
	if m, err := dc.ReadMsg(); err != nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("TCP after reload: %v %v, want NXDOMAIN", m, err)
	}
	reload()
	if m := udpFrom(t, balancerAddr, e.addr, evil); m == nil || m.Rcode != dns.RcodeNameError {
		t.Errorf("untrusted again: plain query %v, want NXDOMAIN", m)
	}
	e.blog.Close()
	got := clientsOf(e.log.events(t))
	want := map[string]int{balancerAddr + " udp evil.example": 2, "10.1.2.3 udp evil.example": 1, "10.1.2.4 tcp evil.example": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log clients = %v, want %v", got, want)
	}
}
