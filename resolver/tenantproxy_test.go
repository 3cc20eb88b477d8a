package resolver_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/need"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// tenantsOf counts the block events by client, protocol, query name and
// tenant.
func tenantsOf(t *testing.T, e *tenantEnv) map[string]int {
	e.blog.Close()
	out := map[string]int{}
	for _, ev := range e.log.events(t) {
		out[ev.Client+" "+ev.Protocol+" "+ev.QName+" "+ev.Tenant]++
	}
	return out
}

// TestTenantsBehindDnsdist: two clients of different tenants query
// through a real dnsdist (PROXY v2 over UDP and TCP); each gets its own
// tenant's answers, and the block log shows its real address and tenant.
func TestTenantsBehindDnsdist(t *testing.T) {
	dnsdist := need.Tool(t, "dnsdist", "dnsdist")
	dig := need.Tool(t, "dig", "bind9-dnsutils")
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, proxyListen(true, false, false, testCert{}))
	port := startDnsdist(t, dnsdist, e.addr, "www.example.")
	digAs := func(client string, tcp bool, name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args := []string{"-b", client, "@127.0.0.1", "-p", fmt.Sprint(port), "+tries=1", "+time=2", "+short", name, "A"}
		if tcp {
			args = append(args, "+tcp")
		}
		out, err := exec.CommandContext(ctx, dig, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	eventually(t, "dnsdist never forwarded", func() error {
		if out, _ := digAs("127.0.0.4", false, "www.example"); out != "192.0.2.1" {
			return fmt.Errorf("last answer: %q", out)
		}
		return nil
	})
	cases := []struct{ client, name, want string }{
		{"127.0.0.2", "phish.example", "192.0.2.66"}, // council-a's block page
		{"127.0.0.3", "phish.example", "192.0.2.10"}, // not council-b's list
		{"127.0.0.2", "malware.example", "192.0.2.20"},
		{"127.0.0.3", "malware.example", ""}, // NXDOMAIN: +short prints nothing
		{"127.0.0.3", "www.shop.example", ""},
		{"127.0.0.2", "www.shop.example", "track.adnet.example.\n192.0.2.31"},
	}
	for _, tcp := range []bool{false, true} {
		for _, c := range cases {
			if out, err := digAs(c.client, tcp, c.name); err != nil || out != c.want {
				t.Errorf("dig -b %s %s (tcp=%v) through dnsdist = %q (%v), want %q", c.client, c.name, tcp, out, err, c.want)
			}
		}
	}
	got := tenantsOf(t, e)
	want := map[string]int{}
	for _, proto := range []string{"udp", "tcp"} {
		want["127.0.0.2 "+proto+" phish.example council-a"] = 1
		want["127.0.0.3 "+proto+" malware.example council-b"] = 1
		want["127.0.0.3 "+proto+" www.shop.example council-b"] = 1
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log = %v, want %v", got, want)
	}
}

// TestTenantsBehindHAProxyDoT: a real HAProxy (send-proxy-v2) in front of
// DoT; the tenant is each kdig's real address, or the id in the TLS
// server name it sends, which beats the address.
func TestTenantsBehindHAProxyDoT(t *testing.T) {
	haproxy := need.Tool(t, "haproxy", "haproxy")
	kdig := need.Tool(t, "kdig", "knot-dnsutils")
	cert := newTestCertFor(t, t.TempDir(), "localhost", "dns.test", "*.dns.test", "127.0.0.1")
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, proxyListen(true, true, false, cert))
	dot := e.srv.StreamAddrs()[query.ProtoDoT][0].String()
	port := startHAProxyDoT(t, haproxy, dot)
	for _, c := range []struct {
		client, sni, name, want string
	}{
		{"127.0.0.2", "", "phish.example", "192.0.2.66"},
		{"127.0.0.3", "", "phish.example", "192.0.2.10"},
		{"127.0.0.3", "", "malware.example", "NXDOMAIN"},
		{"127.0.0.2", "council-b.dns.test", "malware.example", "NXDOMAIN"}, // the SNI id beats the address
		{"127.0.0.4", "council-a.dns.test", "phish.example", "192.0.2.66"},
		{"127.0.0.4", "nobody.dns.test", "phish.example", "NXDOMAIN"}, // an unknown id: the address decides
	} {
		args := []string{"-b", c.client, "@127.0.0.1", "-p", fmt.Sprint(port), "+tls", "+tls-ca=" + cert.caFile,
			"+tls-hostname=localhost", "+timeout=3", "+retry=0", c.name, "A"}
		if c.sni != "" {
			args = append(args, "+tls-sni="+c.sni)
		}
		if out := run(t, kdig, args...); !strings.Contains(out, c.want) || !strings.Contains(out, "TLS") {
			t.Errorf("kdig -b %s sni %q %s through HAProxy: want %s over TLS:\n%s", c.client, c.sni, c.name, c.want, out)
		}
	}
	got := tenantsOf(t, e)
	want := map[string]int{"127.0.0.2 dot phish.example council-a": 1, "127.0.0.3 dot malware.example council-b": 1,
		"127.0.0.2 dot malware.example council-b": 1, "127.0.0.4 dot phish.example council-a": 1,
		"127.0.0.4 dot phish.example ": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log = %v, want %v", got, want)
	}
}

// TestTenantByDoHPathAndSNI: kdig's +https=/dns-query/<id> and DoH's TLS
// server name select the tenant of a client no tenant network holds.
func TestTenantByDoHPathAndSNI(t *testing.T) {
	kdig := need.Tool(t, "kdig", "knot-dnsutils")
	cert := newTestCertFor(t, t.TempDir(), "localhost", "dns.test", "*.dns.test", "127.0.0.1")
	lc := proxyListen(true, false, true, cert)
	lc.ProxyProtocol.Trusted = nil
	e := startTenantEnv(t, tenantConfigs(), tenant.ECSConfig{}, lc)
	host, port, _ := strings.Cut(e.srv.StreamAddrs()[query.ProtoDoH][0].String(), ":")
	for _, c := range []struct {
		args       []string
		name, want string
	}{
		{[]string{"+https=/dns-query/council-a"}, "phish.example", "192.0.2.66"},
		{[]string{"+https=/dns-query/council-b"}, "phish.example", "192.0.2.10"},
		{[]string{"+https=/dns-query/council-b", "+https-get"}, "malware.example", "NXDOMAIN"},
		{[]string{"+https=/dns-query/nobody"}, "phish.example", "NXDOMAIN"}, // unknown id: the default
		{[]string{"+https"}, "phish.example", "NXDOMAIN"},
		{[]string{"+https", "+tls-sni=council-a.dns.test"}, "phish.example", "192.0.2.66"},
		{[]string{"+https=/dns-query/council-b", "+tls-sni=council-a.dns.test"}, "phish.example", "192.0.2.10"}, // the path beats the SNI
	} {
		args := append([]string{"-b", "127.0.0.4", "@" + host, "-p", port, "+tls-ca=" + cert.caFile, "+tls-hostname=localhost",
			"+timeout=3", "+retry=0"}, c.args...)
		args = append(args, c.name, "A")
		if out := run(t, kdig, args...); !strings.Contains(out, c.want) || !strings.Contains(out, "HTTP") {
			t.Errorf("kdig %v %s: want %s over HTTPS:\n%s", c.args, c.name, c.want, out)
		}
	}
	got := tenantsOf(t, e)
	want := map[string]int{"127.0.0.4 doh phish.example council-a": 2, "127.0.0.4 doh malware.example council-b": 1,
		"127.0.0.4 doh phish.example ": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block log = %v, want %v", got, want)
	}
}
