package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/wait"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// chainFor builds a new request path (guard, policy over tab, forwarder
// to e's first upstream), as a config reload builds one.
func chainFor(t *testing.T, e *env, tab *blocklist.Table) query.Resolver {
	t.Helper()
	ucfg := upstream.Config{Servers: []string{e.ups[0].Addr}}
	ucfg.SetDefaults()
	fwd, err := upstream.New(ucfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fwd.Close() })
	tables := &atomic.Pointer[blocklist.Table]{}
	tables.Store(tab)
	bcfg := pipeline.BlockingConfig{}
	bcfg.SetDefaults()
	chain, err := pipeline.NewGuard(pipeline.GuardConfig{Clock: clock.Real{}}, pipeline.NewPolicy(bcfg, tables, fwd, e.blog, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

func blockingTable(t *testing.T, names ...string) *blocklist.Table {
	return buildTable(t, list{info: blocklist.ListInfo{Name: "l", Action: blocklist.ActionNXDomain}, names: names})
}

// exchange asks name over proto at addr; the error is the client's.
func exchange(proto, addr, name string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, addr)
	return resp, err
}

// hammer queries addr over UDP and TCP (one reused connection) from a few
// goroutines until stop is closed, counting answers and failures: a
// timeout, a refused connection, a SERVFAIL. allowed is never blocked.
type hammer struct {
	answered, failed atomic.Int64
	mu               sync.Mutex
	firstErr         error
	wg               sync.WaitGroup
}

func startHammer(t *testing.T, addr, allowed string, stop <-chan struct{}) *hammer {
	h := &hammer{}
	fail := func(err error) {
		h.failed.Add(1)
		h.mu.Lock()
		if h.firstErr == nil {
			h.firstErr = err
		}
		h.mu.Unlock()
	}
	check := func(resp *dns.Msg, err error) {
		switch {
		case err != nil:
			fail(err)
		case resp.Rcode != dns.RcodeSuccess:
			fail(fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode]))
		default:
			h.answered.Add(1)
		}
	}
	for i := 0; i < 3; i++ {
		h.wg.Add(1)
		go func() { // UDP
			defer h.wg.Done()
			for n := 0; n < 20000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				check(exchange("udp", addr, fmt.Sprintf("q%d-%d.%s", i, n%50, allowed)))
			}
		}()
	}
	h.wg.Add(1)
	go func() { // TCP: one connection for the whole run
		defer h.wg.Done()
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			fail(err)
			return
		}
		defer conn.Close()
		for n := 0; n < 20000; n++ {
			select {
			case <-stop:
				return
			default:
			}
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(fmt.Sprintf("t%d.%s", n%50, allowed)), dns.TypeA)
			resp, _, err := c.ExchangeWithConn(m, conn)
			check(resp, err)
		}
	}()
	return h
}

func (h *hammer) stop(t *testing.T, stop chan struct{}) {
	t.Helper()
	close(stop)
	h.wg.Wait()
	if n := h.failed.Load(); n > 0 {
		t.Errorf("%d of %d queries failed during the reloads; first: %v", n, n+h.answered.Load(), h.firstErr)
	}
	if h.answered.Load() == 0 {
		t.Error("no query was answered")
	}
}

// TestReloadUnderLoad reloads the server several times — new block rules,
// a listener added then removed, the TCP limits changed — while clients
// hammer the address that stays, over UDP and over one TCP connection:
// not one query may fail, and each new configuration must be in force as
// soon as Reload returns.
func TestReloadUnderLoad(t *testing.T) {
	e := startEnv(t, blockingTable(t, "gen0.example"), envOpts{})
	lc := resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, TCPIdleTimeout: 2 * time.Second}

	stop := make(chan struct{})
	h := startHammer(t, e.addr, "allowed.example", stop)
	for gen := 1; gen <= 6; gen++ {
		// Reload while queries are flowing: wait for a few hundred more
		// answers first.
		want := h.answered.Load() + 300
		wait.For(t, "queries to flow", func() bool { return h.answered.Load() >= want || h.failed.Load() > 0 })
		cfg := lc
		if gen%2 == 1 {
			cfg.DNS = append(cfg.DNS, "127.0.0.2:0") // added, removed next time
		}
		cfg.MaxTCPConns = 100 + gen
		tab := blockingTable(t, fmt.Sprintf("gen%d.example", gen))
		if err := e.srv.Reload(cfg, pipeline.New(chainFor(t, e, tab), pipeline.Options{Metrics: e.rm})); err != nil {
			t.Fatalf("reload %d: %v", gen, err)
		}
		for _, proto := range []string{"udp", "tcp"} {
			if resp := e.query(t, proto, fmt.Sprintf("www.gen%d.example", gen), dns.TypeA, false); resp.Rcode != dns.RcodeNameError {
				t.Errorf("reload %d over %s: the new list is not applied: %s", gen, proto, dns.RcodeToString[resp.Rcode])
			}
			if resp := e.query(t, proto, fmt.Sprintf("www.gen%d.example", gen-1), dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
				t.Errorf("reload %d over %s: the old list still applies", gen, proto)
			}
		}
		addrs := e.srv.Addrs()
		if got := len(addrs); got != len(cfg.DNS) {
			t.Fatalf("reload %d: %d addresses served, want %d", gen, got, len(cfg.DNS))
		}
		if addrs[0].String() != e.addr {
			t.Fatalf("reload %d: the kept address moved from %s to %s", gen, e.addr, addrs[0])
		}
		if len(addrs) == 2 {
			if resp, err := exchange("tcp", addrs[1].String(), "www.example.org"); err != nil || resp.Rcode != dns.RcodeSuccess {
				t.Errorf("reload %d: the added listener does not answer: %v", gen, err)
			}
		}
	}
	h.stop(t, stop)
	t.Logf("%d queries answered during 6 reloads", h.answered.Load())
}

// TestReloadRemovesListener: a removed address stops answering, over UDP
// and TCP, while the kept one goes on.
func TestReloadRemovesListener(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0", "127.0.0.2:0"}}})
	gone := e.srv.Addrs()[1].String()
	if _, err := exchange("udp", gone, "www.example.org"); err != nil {
		t.Fatal(err)
	}
	// A TCP connection open on the removed address is closed once idle.
	conn, err := net.Dial("tcp", gone)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := e.srv.Reload(resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}}, pipeline.New(chainFor(t, e, phishingTable(t)), pipeline.Options{Metrics: e.rm})); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(conn, 10*time.Second) {
		t.Error("a TCP connection on the removed address stays open")
	}
	if c, err := net.DialTimeout("tcp", gone, 2*time.Second); err == nil {
		c.Close()
		t.Error("the removed TCP address still accepts connections")
	}
	wait.For(t, "the removed UDP socket to close", func() bool {
		_, err := exchangeTimeout("udp", gone, "www.example.org", 200*time.Millisecond)
		return err != nil
	})
	if resp := e.query(t, "udp", "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
		t.Error("the kept address stopped answering")
	}
}

func exchangeTimeout(proto, addr, name string, d time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Net: proto, Timeout: d}
	resp, _, err := c.Exchange(m, addr)
	return resp, err
}

// TestReloadFailureChangesNothing: a reload whose new address is taken,
// or whose certificate does not load, fails with the old chain, sockets
// and settings in place, and nothing of the new configuration opened.
func TestReloadFailureChangesNothing(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	busy, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	newChain := chainFor(t, e, blockingTable(t, "example.org"))
	var free string
	{ // an address free now, to see that the failed reload closed it again
		l, err := net.ListenPacket("udp", "127.0.0.4:0")
		if err != nil {
			t.Fatal(err)
		}
		free = l.LocalAddr().String()
		l.Close()
	}
	bad := []struct {
		name string
		cfg  resolver.ListenConfig
		want string
	}{
		{"address in use", resolver.ListenConfig{DNS: []string{"127.0.0.1:0", free, busy.Addr().String()}}, "address already in use"},
		{"missing certificate", resolver.ListenConfig{DNS: []string{"127.0.0.1:0", free}, TLS: []string{"127.0.0.1:0"},
			CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}, "cert"},
	}
	for _, b := range bad {
		err := e.srv.Reload(b.cfg, pipeline.New(newChain, pipeline.Options{Metrics: e.rm}))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Fatalf("%s: reload error %v, want one naming %q", b.name, err, b.want)
		}
		if got := e.srv.Addrs(); len(got) != 1 || got[0].String() != e.addr {
			t.Errorf("%s: serving %v after a failed reload, want only %s", b.name, got, e.addr)
		}
		// The old chain answers: example.org is not blocked.
		if resp := e.query(t, "udp", "www.example.org", dns.TypeA, false); resp.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: the new chain answers after a failed reload", b.name)
		}
		if resp := e.query(t, "tcp", "www.evil.example", dns.TypeA, false); resp.Rcode != dns.RcodeNameError {
			t.Errorf("%s: the old chain does not answer after a failed reload", b.name)
		}
		// The address the failed reload opened first is free again.
		l, err := net.ListenPacket("udp", free)
		if err != nil {
			t.Errorf("%s: %s was left open: %v", b.name, free, err)
		} else {
			l.Close()
		}
	}
}

// TestReloadEncryptedListeners: DoT and DoH sockets are kept across a
// reload that changes the certificate and the HTTP timeouts (the DoH
// server is replaced on the same socket), and answer with the new chain
// and certificate.
func TestReloadEncryptedListeners(t *testing.T) {
	dir := t.TempDir()
	cert := newTestCert(t, dir)
	e, dot, doh := startEncrypted(t, cert, pipeline.GuardConfig{})
	client := dohClient(cert)
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	if resp, _ := dohQuery(t, client, doh, http.MethodPost, m); resp == nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatal("DoH does not answer before the reload")
	}

	renewed := newTestCert(t, t.TempDir())
	cfg := resolver.ListenConfig{
		DNS: []string{"127.0.0.1:0"}, TLS: []string{dot}, HTTPS: []string{doh},
		CertFile: renewed.certFile, KeyFile: renewed.keyFile, TCPIdleTimeout: 3 * time.Second, TCPReadTimeout: 3 * time.Second,
	}
	// The listeners are configured as "127.0.0.1:0". Naming their bound
	// ports is another address: the reload would open them anew, on ports
	// the server holds, so it fails and changes nothing.
	if err := e.srv.Reload(cfg, pipeline.New(chainFor(t, e, blockingTable(t, "example.org")), pipeline.Options{Metrics: e.rm})); err == nil {
		t.Fatal("a reload onto addresses the server holds under other names succeeded")
	}
	cfg.TLS, cfg.HTTPS = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	if err := e.srv.Reload(cfg, pipeline.New(chainFor(t, e, blockingTable(t, "example.org")), pipeline.Options{Metrics: e.rm})); err != nil {
		t.Fatal(err)
	}
	addrs := e.srv.StreamAddrs()
	if got := addrs[query.ProtoDoT][0].String(); got != dot {
		t.Errorf("DoT moved from %s to %s", dot, got)
	}
	if got := addrs[query.ProtoDoH][0].String(); got != doh {
		t.Errorf("DoH moved from %s to %s", doh, got)
	}
	// The new certificate, the new chain, on the kept sockets.
	client = dohClient(renewed)
	resp, hr := dohQuery(t, client, doh, http.MethodPost, m)
	if resp == nil {
		t.Fatalf("DoH after the reload: HTTP %d", hr.StatusCode)
	}
	if resp.Rcode != dns.RcodeNameError {
		t.Errorf("DoH after the reload: %s, want NXDOMAIN from the new list", dns.RcodeToString[resp.Rcode])
	}
	c := &dns.Client{Net: "tcp-tls", TLSConfig: renewed.clientTLS(), Timeout: 5 * time.Second}
	if r, _, err := c.Exchange(m, dot); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("DoT after the reload: %v %v", r, err)
	}
}

// TestShutdownAfterReload: Shutdown ends every loop, those of sockets a
// reload added or retired included.
func TestShutdownAfterReload(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{})
	for _, dnsAddrs := range [][]string{{"127.0.0.1:0", "127.0.0.2:0"}, {"127.0.0.1:0"}} {
		if err := e.srv.Reload(resolver.ListenConfig{DNS: dnsAddrs}, pipeline.New(chainFor(t, e, phishingTable(t)), pipeline.Options{Metrics: e.rm})); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := e.srv.Reload(resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}}, pipeline.New(chainFor(t, e, phishingTable(t)), pipeline.Options{Metrics: e.rm})); err == nil {
		t.Error("reload after shutdown succeeded")
	}
	if _, err := exchangeTimeout("udp", e.addr, "www.example.org", 300*time.Millisecond); err == nil || errors.Is(err, context.Canceled) {
		t.Error("the server still answers after shutdown")
	}
}
