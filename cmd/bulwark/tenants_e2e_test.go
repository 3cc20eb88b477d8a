package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// tenantsConfig is reloadConfig's shape with two block lists, an
// exception list and the tenants given.
func tenantsConfig(h e2eHost, upstream, tenants string) string {
	return h.config(upstream, `blocklists:
  - name: phishing
    source: "file:phishing.txt"
  - name: malware
    source: "file:malware.txt"
allowlists:
  - name: exc
    source: "file:exc.txt"
`+tenants)
}

// exchangeAs asks name (type A) over c from the loopback address src.
func exchangeAs(t *testing.T, src, proto string, port int, name string) int {
	t.Helper()
	var local net.Addr = &net.UDPAddr{IP: net.ParseIP(src)}
	if proto == "tcp" {
		local = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second, Dialer: &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}}
	resp, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("%s %s from %s: %v", proto, name, src, err)
	}
	return resp.Rcode
}

// TestTenantsServeAndReload: the daemon applies each tenant's policy,
// counts it in /metrics and /stats, and a reload that changes the
// tenants takes effect at once while keeping the sockets (an open TCP
// connection goes on being answered) and the cache; a removed tenant's
// series go.
func TestTenantsServeAndReload(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	const councilA = `tenants:
  - name: council-a
    clients: ["127.0.0.2/32"]
    blocklists: [phishing]
    allowlists: [exc]
`
	dir := writeFiles(t, map[string]string{"bulwark.yaml": tenantsConfig(h, up.Addr, councilA),
		"phishing.txt": "evil.example\n", "malware.txt": "malware.test\n", "exc.txt": "good.evil.example\n"})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")
	type ask struct {
		src, name string
		want      int
	}
	check := func(when string, cases []ask) {
		t.Helper()
		for _, proto := range []string{"udp", "tcp"} {
			for _, c := range cases {
				if got := exchangeAs(t, c.src, proto, port, c.name); got != c.want {
					t.Errorf("%s: %s %s from %s: %s, want %s", when, proto, c.name, c.src, dns.RcodeToString[got], dns.RcodeToString[c.want])
				}
			}
		}
	}
	check("council-a alone", []ask{
		{"127.0.0.2", "x.evil.example", dns.RcodeNameError},
		{"127.0.0.2", "good.evil.example", dns.RcodeSuccess}, // its exception
		{"127.0.0.2", "malware.test", dns.RcodeSuccess},      // not its list
		{"127.0.0.3", "good.evil.example", dns.RcodeNameError},
		{"127.0.0.3", "malware.test", dns.RcodeNameError},
		{"127.0.0.3", "www.example.org", dns.RcodeSuccess},
	})
	var st serverStats
	if code, body := adminGet(t, admin, "/stats"); code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("/stats: %d %s", code, body)
	}
	if a := st.Tenants["council-a"]; len(st.Tenants) != 1 || a.Queries != 6 || a.Blocked.Total != 2 || a.Blocked.ByList["phishing"] != 2 {
		t.Errorf("/stats tenants = %+v, want council-a with 6 queries, 2 blocked by phishing", st.Tenants)
	}
	if v := scrape(t, admin, `bulwark_tenant_queries_total{tenant="council-a"}`); v != 6 {
		t.Errorf(`bulwark_tenant_queries_total{tenant="council-a"} = %v, want 6`, v)
	}

	// A TCP connection from before the reload, to be answered after it.
	conn, err := dns.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	upBefore := up.Count()
	const both = councilA + `  - name: council-b
    clients: ["127.0.0.3/32"]
    blocklists: [malware]
`
	writeFile(t, cfgPath, tenantsConfig(h, up.Addr, both))
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	check("council-b added", []ask{
		{"127.0.0.2", "x.evil.example", dns.RcodeNameError},
		{"127.0.0.3", "x.evil.example", dns.RcodeSuccess}, // council-b has no phishing list
		{"127.0.0.3", "malware.test", dns.RcodeNameError},
		{"127.0.0.3", "www.example.org", dns.RcodeSuccess},
		{"127.0.0.4", "good.evil.example", dns.RcodeNameError},
	})
	m := new(dns.Msg)
	m.SetQuestion("x.evil.example.", dns.TypeA)
	if err := conn.WriteMsg(m); err != nil {
		t.Fatalf("the connection opened before the reload: %v", err)
	}
	if resp, err := conn.ReadMsg(); err != nil || resp.Rcode != dns.RcodeNameError {
		t.Errorf("the connection opened before the reload: %v %v, want NXDOMAIN", resp, err)
	}
	// www.example.org and malware.test were cached before the reload;
	// x.evil.example is the one name council-b newly resolves.
	if n := up.Count() - upBefore; n != 1 {
		t.Errorf("the upstream was asked %d times after the reload, want 1: the reload dropped the cache", n)
	}
	if v := scrape(t, admin, `bulwark_tenant_queries_total{tenant="council-b"}`); v != 6 {
		t.Errorf(`bulwark_tenant_queries_total{tenant="council-b"} = %v, want 6`, v)
	}

	// Removing council-a removes its series and its /stats entry.
	writeFile(t, cfgPath, tenantsConfig(h, up.Addr, "tenants:\n"+both[len(councilA):]))
	if code, body := postReload(t, admin, ""); code != http.StatusOK {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	// Its client gets the default policy, and the exception list no
	// tenant claims any more is everyone's again.
	check("council-a removed", []ask{{"127.0.0.2", "malware.test", dns.RcodeNameError},
		{"127.0.0.4", "good.evil.example", dns.RcodeSuccess}})
	if v := scrape(t, admin, `bulwark_tenant_queries_total{tenant="council-a"}`); v != -1 {
		t.Errorf(`bulwark_tenant_queries_total{tenant="council-a"} = %v after council-a was removed, want no series`, v)
	}
	st = serverStats{}
	if _, body := adminGet(t, admin, "/stats"); json.Unmarshal([]byte(body), &st) != nil || len(st.Tenants) != 1 || st.Tenants["council-b"].Queries != 6 {
		t.Errorf("/stats tenants after removing council-a = %+v", st.Tenants)
	}
}
