package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

func TestDoT(t *testing.T) {
	p := newPKI(t)
	good := p.encrypted(t, "dot.test", "127.0.0.1")
	other := p.encrypted(t, "other.test")
	untrusted := newPKI(t).encrypted(t, "dot.test")
	tests := []struct {
		name    string
		server  string
		caFile  string
		srv     *dnstest.Server
		errPart string // "" for success
	}{
		{"name verified", dotURL("dot.test", good), p.file, good, ""},
		{"IP in certificate", "tls://" + good.TLSAddr, p.file, good, ""},
		{"wrong name in certificate", dotURL("dot.test", other), p.file, other, "certificate is valid for other.test, not dot.test"},
		{"unknown CA", dotURL("dot.test", untrusted), p.file, untrusted, "certificate signed by unknown authority"},
		{"no ca_file: system roots only", dotURL("dot.test", good), "", good, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.srv.Reset()
			f, reg := newForwarder(t, Config{Servers: []string{tt.server}, CAFile: tt.caFile, Timeout: long, TryTimeout: long})
			m, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, true))
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) || !strings.Contains(err.Error(), "upstream "+tt.server+": ") {
					t.Fatalf("error %v, want one naming the server and saying %q", err, tt.errPart)
				}
				if tt.srv.Count() != 0 {
					t.Errorf("server saw %d queries over an unverified connection", tt.srv.Count())
				}
				wantMetrics(t, reg, tt.server, map[string]float64{"error": 1})
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if answerA(m) != dnstest.WildcardA || hasOPT(m) {
				t.Errorf("got %v, want %s without OPT", m, dnstest.WildcardA)
			}
			qs := tt.srv.Queries()
			if len(qs) != 1 || qs[0].Proto != "tls" || !qs[0].DO || qs[0].OPT.UDPSize() != ednsSize || !paddedOnly(qs[0]) {
				t.Errorf("server saw %+v, want one tls query with our OPT, padded", qs)
			}
			wantMetrics(t, reg, tt.server, map[string]float64{"success": 1})
		})
	}
}

// TestStreamReuse: one connection carries many queries, and one closed by
// the server (its idle timeout) is replaced without failing a query.
func TestStreamReuse(t *testing.T) {
	p := newPKI(t)
	s := p.encrypted(t, "dot.test")
	url := dotURL("dot.test", s)
	f, reg := newForwarder(t, Config{Servers: []string{url}, CAFile: p.file, Timeout: long, TryTimeout: long})
	for i := range 10 {
		if _, err := f.Resolve(context.Background(), request(fmt.Sprintf("q%d.example.", i), dns.TypeA, true, false, false)); err != nil {
			t.Fatal(err)
		}
	}
	qs := s.Queries()
	for _, q := range qs {
		if q.Conn != qs[0].Conn {
			t.Fatalf("queries on connections %d and %d, want one", qs[0].Conn, q.Conn)
		}
	}
	if s.TLSHandshakes() != 1 || metric(t, reg, "bulwark_upstream_connections_total", "upstream", url) != 1 {
		t.Errorf("%d handshakes, %v connections counted; want 1", s.TLSHandshakes(), metric(t, reg, "bulwark_upstream_connections_total", "upstream", url))
	}

	t.Run("closed between queries", func(t *testing.T) {
		s.CloseTLSConns()
		if _, err := f.Resolve(context.Background(), request("after.example.", dns.TypeA, true, false, false)); err != nil {
			t.Fatal(err)
		}
		if s.TLSHandshakes() != 2 {
			t.Errorf("%d handshakes, want 2", s.TLSHandshakes())
		}
	})
	t.Run("closed with a query in flight", func(t *testing.T) {
		s.Reset()
		s.SetMode(dnstest.Timeout)
		done := make(chan error, 1)
		go func() {
			_, err := f.Resolve(context.Background(), request("inflight.example.", dns.TypeA, true, false, false))
			done <- err
		}()
		wait.For(t, "the query to arrive", func() bool { return s.Count() == 1 })
		s.SetMode(dnstest.Answer)
		s.CloseTLSConns()
		if err := <-done; err != nil {
			t.Fatalf("query whose connection closed under it: %v", err)
		}
		if s.Count() != 2 || s.TLSHandshakes() != 3 {
			t.Errorf("%d queries, %d handshakes; want the query sent again on a third connection", s.Count(), s.TLSHandshakes())
		}
	})
	wantMetrics(t, reg, url, map[string]float64{"success": 12})
}

// TestDoTPipelining: concurrent queries share one connection, all in
// flight at once (the server holds every answer until it has all eight)
// and answered in whatever order the server picks.
func TestDoTPipelining(t *testing.T) {
	const n = 8
	p := newPKI(t)
	s := p.encrypted(t, "dot.test")
	s.SetHold(n)
	f, _ := newForwarder(t, Config{Servers: []string{dotURL("dot.test", s)}, CAFile: p.file, Timeout: long, TryTimeout: long})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("p%d.example.", i)
			m, err := f.Resolve(context.Background(), request(name, dns.TypeA, true, false, false))
			if err == nil && (len(m.Answer) != 1 || m.Answer[0].Header().Name != name) {
				err = fmt.Errorf("%s: got answer %v", name, m.Answer)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ids := map[uint16]bool{}
	for _, q := range s.Queries() {
		ids[q.ID] = true
	}
	if s.TLSHandshakes() != 1 || len(ids) != n {
		t.Errorf("%d handshakes, %d distinct IDs; want %d queries pipelined on 1 connection", s.TLSHandshakes(), len(ids), n)
	}
}

// TestDoTSilentConnectionRetired: a connection on which a query timed out
// with nothing received is not trusted with the next query.
func TestDoTSilentConnectionRetired(t *testing.T) {
	p := newPKI(t)
	s := p.encrypted(t, "dot.test")
	url := dotURL("dot.test", s)
	f, reg := newForwarder(t, Config{Servers: []string{url}, CAFile: p.file, Timeout: long, TryTimeout: medium})
	if _, err := f.Resolve(context.Background(), request("warm.example.", dns.TypeA, true, false, false)); err != nil {
		t.Fatal(err)
	}
	s.SetMode(dnstest.Timeout)
	_, err := f.Resolve(context.Background(), request("lost.example.", dns.TypeA, true, false, false))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want a timeout", err)
	}
	s.SetMode(dnstest.Answer)
	if _, err := f.Resolve(context.Background(), request("next.example.", dns.TypeA, true, false, false)); err != nil {
		t.Fatal(err)
	}
	// Each attempt at the lost query (one per pass) timed out on a silent
	// connection, so each next attempt, and the next query, got a new one.
	qs := s.Queries()
	silent := map[uint64]bool{}
	for _, q := range qs {
		if silent[q.Conn] {
			t.Errorf("%s sent on connection %d, which had gone silent", q.Name, q.Conn)
		}
		if q.Name == "lost.example." {
			silent[q.Conn] = true
		}
	}
	if last := qs[len(qs)-1]; last.Name != "next.example." || s.TLSHandshakes() != len(qs)-1 {
		t.Errorf("%d queries over %d handshakes; want a new connection after each timeout", len(qs), s.TLSHandshakes())
	}
	if got := requests(t, reg, url, "timeout"); got < 1 {
		t.Errorf("timeouts counted %v", got)
	}
}

// TestTCPUpstream: tcp:// keeps one connection (one source port) for
// sequential queries, against miekg/dns's own TCP server.
func TestTCPUpstream(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	url := "tcp://" + s.Addr
	f, reg := newForwarder(t, Config{Servers: []string{url}, Timeout: long, TryTimeout: long})
	for i := range 5 {
		m, err := f.Resolve(context.Background(), request(fmt.Sprintf("t%d.example.", i), dns.TypeA, true, false, false))
		if err != nil {
			t.Fatal(err)
		}
		if answerA(m) != dnstest.WildcardA {
			t.Errorf("answer %v", m.Answer)
		}
	}
	ports := map[int]bool{}
	for _, q := range s.Queries() {
		if q.Proto != "tcp" {
			t.Errorf("query over %s", q.Proto)
		}
		ports[q.SrcPort] = true
	}
	if len(ports) != 1 {
		t.Errorf("%d source ports, want 1 reused connection", len(ports))
	}
	wantMetrics(t, reg, url, map[string]float64{"success": 5})
}

func TestCloseStopsStreams(t *testing.T) {
	p := newPKI(t)
	s := p.encrypted(t, "dot.test")
	f, err := New(Config{Servers: []string{dotURL("dot.test", s)}, CAFile: p.file, Timeout: long, TryTimeout: long}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Resolve(context.Background(), request("x.example.", dns.TypeA, true, false, false)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f.Close() // idempotent
	if _, err := f.Resolve(context.Background(), request("y.example.", dns.TypeA, true, false, false)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestStreamIdleClose: a connection with nothing in flight is closed after
// the idle timeout, and the next query opens a new one.
func TestStreamIdleClose(t *testing.T) {
	p := newPKI(t)
	s := p.encrypted(t, "dot.test")
	f, _ := newForwarder(t, Config{Servers: []string{dotURL("dot.test", s)}, CAFile: p.file, Timeout: long, TryTimeout: long})
	pool := f.def.servers[0].stream
	pool.idle = 50 * time.Millisecond // before any connection reads it
	resolveOK(t, f, "a.example.")
	wait.For(t, "the idle connection to close", func() bool {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		return len(pool.conns) == 0
	})
	resolveOK(t, f, "b.example.")
	if s.TLSHandshakes() != 2 {
		t.Errorf("%d handshakes, want 2", s.TLSHandshakes())
	}
}
