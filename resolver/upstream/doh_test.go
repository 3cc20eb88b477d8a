package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

func TestDoH(t *testing.T) {
	p := newPKI(t)
	for _, method := range []string{MethodPOST, MethodGET} {
		t.Run(method, func(t *testing.T) {
			s := p.encrypted(t, "doh.test")
			url := dohURL("doh.test", s)
			f, reg := newForwarder(t, Config{Servers: []string{url}, CAFile: p.file, DoHMethod: method, Timeout: long, TryTimeout: long})
			for i := range 3 {
				m, err := f.Resolve(context.Background(), request(fmt.Sprintf("h%d.example.", i), dns.TypeA, true, true, true))
				if err != nil {
					t.Fatal(err)
				}
				if answerA(m) != dnstest.WildcardA || hasOPT(m) {
					t.Errorf("got %v, want %s without OPT", m, dnstest.WildcardA)
				}
			}
			for _, q := range s.Queries() {
				if q.Proto != "https" || q.HTTPMethod != strings.ToUpper(method) || q.HTTPMajor != 2 || q.ID != 0 {
					t.Errorf("server saw %s %s HTTP/%d ID %d; want %s over HTTP/2 with ID 0", q.Proto, q.HTTPMethod, q.HTTPMajor, q.ID, strings.ToUpper(method))
				}
				if !q.RD || !q.CD || !q.DO || q.OPT.UDPSize() != ednsSize || !paddedOnly(q) {
					t.Errorf("server saw RD=%v CD=%v DO=%v OPT %v", q.RD, q.CD, q.DO, q.OPT)
				}
			}
			if s.HTTPSConns() != 1 {
				t.Errorf("%d HTTPS connections for 3 queries, want 1", s.HTTPSConns())
			}
			wantMetrics(t, reg, url, map[string]float64{"success": 3})
		})
	}
}

func TestDoHErrors(t *testing.T) {
	p := newPKI(t)
	s := p.encrypted(t, "doh.test")
	tests := []struct {
		name    string
		server  string
		setup   func()
		result  string
		errPart string
	}{
		{"HTTP error", dohURL("doh.test", s), func() { s.SetHTTPStatus(http.StatusBadGateway) }, "error", "HTTP status 502 Bad Gateway"},
		{"not found", strings.Replace(dohURL("doh.test", s), dnstest.DoHPath, "/nope", 1), nil, "error", "HTTP status 404"},
		{"wrong name", dohURL("wrong.test", s), nil, "error", "certificate is valid for doh.test, not wrong.test"},
		{"timeout", dohURL("doh.test", s), func() { s.SetMode(dnstest.Timeout) }, "timeout", "timeout after"},
		{"SERVFAIL", dohURL("doh.test", s), func() { s.SetMode(dnstest.ServFail) }, "servfail", "answered SERVFAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetHTTPStatus(0)
			s.SetMode(dnstest.Answer)
			if tt.setup != nil {
				tt.setup()
			}
			backup := dnstest.Start(t, dnstest.WithWildcard())
			f, reg := newForwarder(t, Config{Servers: []string{tt.server, backup.Addr}, CAFile: p.file, Timeout: long, TryTimeout: medium})
			// Through the failure to the backup, and the failure explained
			// when there is no backup.
			if m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false)); err != nil || answerA(m) != dnstest.WildcardA {
				t.Fatalf("got %v, %v; want the backup's answer", m, err)
			}
			wantMetrics(t, reg, tt.server, map[string]float64{tt.result: 1})
			alone, _ := newForwarder(t, Config{Servers: []string{tt.server}, CAFile: p.file, Timeout: medium, TryTimeout: medium})
			_, err := alone.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
			if err == nil || !strings.Contains(err.Error(), "upstream "+tt.server+": ") || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("error %v, want one naming the server and saying %q", err, tt.errPart)
			}
		})
	}
}

// TestBootstrap resolves the host names of DoT and DoH servers through a
// plain-DNS bootstrap server (never the system resolver), once per
// connection.
func TestBootstrap(t *testing.T) {
	p := newPKI(t)
	s := p.encrypted(t, "dot.test", "doh.test")
	dohPort := s.URL[strings.LastIndexByte(s.URL, ':')+1 : strings.LastIndexByte(s.URL, '/')]
	dotPort := s.TLSAddr[strings.LastIndexByte(s.TLSAddr, ':')+1:]
	for _, tt := range []struct{ host, server string }{
		{"dot.test", "tls://dot.test:" + dotPort},
		{"doh.test", "https://doh.test:" + dohPort + dnstest.DoHPath},
	} {
		t.Run(tt.host, func(t *testing.T) {
			boot := dnstest.Start(t, dnstest.WithZone("test."))
			boot.Add("dot.test. 300 IN A 127.0.0.1", "doh.test. 300 IN A 127.0.0.1")
			f, _ := newForwarder(t, Config{Servers: []string{tt.server}, Bootstrap: []string{boot.Addr}, CAFile: p.file, Timeout: long, TryTimeout: long})
			for range 3 {
				if m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false)); err != nil || answerA(m) != dnstest.WildcardA {
					t.Fatalf("got %v, %v", m, err)
				}
			}
			var asked []string
			for _, q := range boot.Queries() {
				asked = append(asked, q.Name+" "+dns.TypeToString[q.Type])
			}
			slices.Sort(asked) // asked at once
			if want := tt.host + ". A," + tt.host + ". AAAA"; strings.Join(asked, ",") != want {
				t.Errorf("bootstrap asked %q, want %q (once: the connection is reused)", asked, want)
			}
		})
	}
	t.Run("bootstrap failing", func(t *testing.T) {
		boot := dnstest.Start(t, dnstest.WithZone("test."))
		boot.SetMode(dnstest.Refused)
		server := "tls://dot.test:" + dotPort
		f, _ := newForwarder(t, Config{Servers: []string{server}, Bootstrap: []string{boot.Addr}, CAFile: p.file, Timeout: long, TryTimeout: long})
		_, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false))
		if err == nil || !strings.Contains(err.Error(), "upstream "+server+": connect: bootstrap: resolve dot.test") || !errors.Is(err, ErrRefused) {
			t.Errorf("error %v, want the bootstrap failure explained", err)
		}
	})
}

// TestBootstrapCache checks the lookup cache directly: a fresh entry is
// used, an expired one looked up again, and a failed lookup falls back to
// the last addresses.
func TestBootstrapCache(t *testing.T) {
	boot := dnstest.Start(t, dnstest.WithZone("test."))
	boot.Add("dot.test. 120 IN A 127.0.0.1", "dot.test. 120 IN AAAA ::1", "v6.test. 600 IN AAAA ::1")
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	f, _ := newForwarder(t, Config{Servers: []string{"tls://dot.test"}, Bootstrap: []string{boot.Addr}, Timeout: long, TryTimeout: medium}, WithClock(clk))
	lookup := f.def.servers[0].lookup
	ctx := context.Background()

	addrs, err := lookup(ctx, "dot.test")
	if err != nil || fmt.Sprint(addrs) != "[127.0.0.1 ::1]" {
		t.Fatalf("lookup: %v, %v; want IPv4 first", addrs, err)
	}
	clk.Advance(119 * time.Second)
	if _, err := lookup(ctx, "dot.test"); err != nil || boot.Count() != 2 {
		t.Errorf("within TTL: %v, %d bootstrap queries; want the cached answer", err, boot.Count())
	}
	clk.Advance(2 * time.Second)
	if _, err := lookup(ctx, "dot.test"); err != nil || boot.Count() != 4 {
		t.Errorf("after TTL: %v, %d bootstrap queries; want a new lookup", err, boot.Count())
	}
	boot.SetMode(dnstest.ServFail)
	clk.Advance(time.Hour)
	if addrs, err := lookup(ctx, "dot.test"); err != nil || len(addrs) != 2 {
		t.Errorf("bootstrap failing: %v, %v; want the last addresses", addrs, err)
	}
	if _, err := lookup(ctx, "v6.test"); err == nil || !strings.Contains(err.Error(), "bootstrap: resolve v6.test") || !errors.Is(err, ErrServFail) {
		t.Errorf("never resolved, bootstrap failing: %v", err)
	}
	boot.SetMode(dnstest.Answer)
	if _, err := lookup(ctx, "none.test"); err == nil || !strings.Contains(err.Error(), "none.test has no A or AAAA records") {
		t.Errorf("NXDOMAIN: %v", err)
	}
	if addrs, err := lookup(ctx, "v6.test"); err != nil || fmt.Sprint(addrs) != "[::1]" {
		t.Errorf("AAAA only: %v, %v", addrs, err)
	}
}
