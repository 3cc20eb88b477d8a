package resolver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// startEncrypted starts an env with DoT and DoH listeners and returns their
// addresses.
func startEncrypted(t *testing.T, cert testCert, guard pipeline.GuardConfig) (e *env, dot, doh string) {
	t.Helper()
	e = startEnv(t, phishingTable(t), envOpts{guard: guard, listenCfg: resolver.ListenConfig{
		DNS: []string{"127.0.0.1:0"}, TLS: []string{"127.0.0.1:0"}, HTTPS: []string{"127.0.0.1:0"},
		CertFile: cert.certFile, KeyFile: cert.keyFile,
	}})
	addrs := e.srv.StreamAddrs()
	return e, addrs[query.ProtoDoT][0].String(), addrs[query.ProtoDoH][0].String()
}

func dohClient(cert testCert) *http.Client {
	tr := &http.Transport{TLSClientConfig: cert.clientTLS(), ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// dohQuery sends m over DoH with method GET or POST.
func dohQuery(t *testing.T, c *http.Client, addr, method string, m *dns.Msg) (*dns.Msg, *http.Response) {
	t.Helper()
	w, _ := m.Pack()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, "https://"+addr+"/dns-query?dns="+base64.RawURLEncoding.EncodeToString(w), nil)
	} else {
		req, err = http.NewRequest(method, "https://"+addr+"/dns-query", bytes.NewReader(w))
		req.Header.Set("Content-Type", "application/dns-message")
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, resp
	}
	out := new(dns.Msg)
	if err := out.Unpack(body); err != nil {
		t.Fatalf("DoH body: %v", err)
	}
	return out, resp
}

func TestDoTAndDoHWithGoClients(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	e, dot, doh := startEncrypted(t, cert, pipeline.GuardConfig{})

	c := &dns.Client{Net: "tcp-tls", TLSConfig: cert.clientTLS(), Timeout: 5 * time.Second}
	conn, err := c.Dial(dot)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Several queries on one DoT connection (connection reuse).
	for _, q := range []struct {
		name  string
		rcode int
	}{{"www.example.org.", dns.RcodeSuccess}, {"evil.example.", dns.RcodeNameError}, {"good.evil.example.", dns.RcodeSuccess}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, dns.TypeA)
		resp, _, err := c.ExchangeWithConn(m, conn)
		if err != nil {
			t.Fatalf("DoT %s: %v", q.name, err)
		}
		if resp.Rcode != q.rcode {
			t.Errorf("DoT %s: rcode %s", q.name, dns.RcodeToString[resp.Rcode])
		}
	}

	hc := dohClient(cert)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.Id = 0 // RFC 8484 §4.1: clients use ID 0 for cacheability
		resp, hr := dohQuery(t, hc, doh, method, m)
		if resp == nil {
			t.Fatalf("DoH %s: HTTP %d", method, hr.StatusCode)
		}
		if hr.ProtoMajor != 2 {
			t.Errorf("DoH %s over HTTP/%d, want HTTP/2", method, hr.ProtoMajor)
		}
		if ct := hr.Header.Get("Content-Type"); ct != "application/dns-message" {
			t.Errorf("content type %q", ct)
		}
		if cc := hr.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "max-age=") {
			t.Errorf("Cache-Control %q, want max-age", cc)
		}
		if len(resp.Answer) != 1 || addrOf(resp.Answer[0]).String() != dnstest.WildcardA {
			t.Errorf("DoH %s answer %v", method, resp.Answer)
		}
		m.SetQuestion("x.evil.example.", dns.TypeA)
		if resp, _ := dohQuery(t, hc, doh, method, m); resp == nil || resp.Rcode != dns.RcodeNameError {
			t.Errorf("DoH %s blocked name: %v", method, resp)
		}
	}
	// Bad DoH requests get HTTP errors, not crashes.
	for _, bad := range []struct {
		method, url, ctype string
		body               string
		status             int
	}{
		{"GET", "/dns-query", "", "", http.StatusBadRequest},
		{"GET", "/dns-query?dns=!!!", "", "", http.StatusBadRequest},
		{"POST", "/dns-query", "text/plain", "x", http.StatusUnsupportedMediaType},
		{"PUT", "/dns-query", "", "", http.StatusMethodNotAllowed},
		{"POST", "/dns-query", "application/dns-message", "\x00\x01", http.StatusOK}, // FORMERR? too short: no answer -> reset
	} {
		req, _ := http.NewRequest(bad.method, "https://"+doh+bad.url, strings.NewReader(bad.body))
		if bad.ctype != "" {
			req.Header.Set("Content-Type", bad.ctype)
		}
		resp, err := hc.Do(req)
		if bad.status == http.StatusOK {
			// A packet too short to answer: the stream is reset.
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s %s: got HTTP %d, want a reset stream", bad.method, bad.url, resp.StatusCode)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: %v", bad.method, bad.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != bad.status {
			t.Errorf("%s %s: HTTP %d, want %d", bad.method, bad.url, resp.StatusCode, bad.status)
		}
	}
	if got := metricValue(t, e.reg, "bulwark_queries_total", "proto", "dot"); got != 3 {
		t.Errorf("dot queries = %v, want 3", got)
	}
	if got := metricValue(t, e.reg, "bulwark_queries_total", "proto", "doh"); got != 4 {
		t.Errorf("doh queries = %v, want 4", got)
	}
}

func TestEncryptedListenersApplyTheACL(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	_, dot, doh := startEncrypted(t, cert, pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: []string{"10.0.0.0/8"}}})
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	resp, _, err := (&dns.Client{Net: "tcp-tls", TLSConfig: cert.clientTLS()}).Exchange(m, dot)
	if err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("DoT from outside the ACL: %v %v", resp, err)
	}
	if resp, _ := dohQuery(t, dohClient(cert), doh, http.MethodPost, m); resp == nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("DoH from outside the ACL: %v", resp)
	}
}

func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	cert := newTestCert(t, dir)
	e, dot, _ := startEncrypted(t, cert, pipeline.GuardConfig{})
	serial := func(pool testCert) string {
		tc, err := tls.Dial("tcp", dot, pool.clientTLS())
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		return tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(cert); got != cert.serial {
		t.Fatalf("serial %s, want %s", got, cert.serial)
	}
	renewed := newTestCert(t, dir) // overwrites the files
	if err := e.srv.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if got := serial(renewed); got != renewed.serial {
		t.Fatalf("after reload: serial %s, want the renewed %s", got, renewed.serial)
	}
	// A broken key file: the reload fails and the current certificate stays.
	if err := os.WriteFile(renewed.keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ReloadCertificate(); err == nil {
		t.Fatal("reload of a broken key succeeded")
	}
	if got := serial(renewed); got != renewed.serial {
		t.Fatalf("after a failed reload: serial %s, want the renewed %s", got, renewed.serial)
	}
}

// TestKdigOverTLSAndHTTPS drives the listeners with a real third-party
// client, kdig from Debian's knot-dnsutils.
func TestKdigOverTLSAndHTTPS(t *testing.T) {
	kdig := need.Tool(t, "kdig", "knot-dnsutils")
	dir := t.TempDir()
	cert := newTestCert(t, dir)
	_, dot, doh := startEncrypted(t, cert, pipeline.GuardConfig{})
	run := func(addr string, args ...string) string {
		host, port, _ := strings.Cut(addr, ":")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		all := append([]string{"@" + host, "-p", port, "+tls-ca=" + cert.caFile, "+tls-hostname=localhost", "+timeout=5", "+retry=0"}, args...)
		out, err := exec.CommandContext(ctx, kdig, all...).CombinedOutput()
		if err != nil {
			t.Fatalf("kdig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, tt := range []struct {
		addr string
		args []string
		want []string
	}{
		{dot, []string{"+tls", "www.example.org", "A"}, []string{"NOERROR", dnstest.WildcardA, "TLS"}},
		{dot, []string{"+tls", "evil.example", "A"}, []string{"NXDOMAIN"}},
		{doh, []string{"+https", "www.example.org", "A"}, []string{"NOERROR", dnstest.WildcardA, "HTTP/2-POST"}},
		{doh, []string{"+https", "+https-get", "sub.evil.example", "AAAA"}, []string{"NXDOMAIN", "HTTP/2-GET"}},
	} {
		out := run(tt.addr, tt.args...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("kdig %v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}
