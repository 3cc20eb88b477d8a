// Package dnstest starts fake authoritative DNS servers on loopback for
// tests: real UDP and TCP sockets (and optionally DNS over TLS and DNS over
// HTTPS with certificates from a throwaway CA), answers from zone-file
// records, and misbehaviour (truncation, timeouts, SERVFAIL, spoofed
// replies, extra EDNS options, delays, held answers, HTTP errors) that can
// be switched at run time.
package dnstest

import (
	"crypto/tls"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a fake authoritative server answering UDP and TCP on the same
// port. All methods are safe for concurrent use with the queries it serves.
type Server struct {
	// Addr is "host:port", shared by the UDP and TCP listeners.
	Addr string
	// TLSAddr is the DoT listener's "host:port" (WithTLS), else "".
	TLSAddr string
	// URL is the DoH endpoint, "https://host:port/dns-query" (WithHTTPS),
	// else "".
	URL string

	t        testing.TB
	zone     string
	wildcard bool

	mu      sync.Mutex
	records map[string][]dns.RR // lower-case owner name -> records
	queryLog[Query]

	mode     atomic.Int32
	truncate atomic.Bool
	spoof    atomic.Uint32
	delay    atomic.Int64
	ednsOpts atomic.Pointer[[]dns.EDNS0]

	holdN  atomic.Int32
	holdMu sync.Mutex
	holdCh chan struct{} // closed when holdN answers are being held
	held   int

	httpStatus atomic.Int32
	connSeq    atomic.Uint64 // numbers DoT and DoH connections

	done chan struct{} // closed on shutdown, releasing delayed answers
	udp  *dns.Server
	tcp  *dns.Server

	tlsLn         net.Listener
	tlsWG         sync.WaitGroup
	tlsMu         sync.Mutex
	tlsConns      map[net.Conn]struct{}
	tlsHandshakes atomic.Int64

	https      *httptest.Server
	httpsConns atomic.Int64
}

type options struct {
	addr     string
	zone     string
	wildcard bool
	tls      *tls.Certificate
	https    *tls.Certificate
}

// Option configures Start.
type Option func(*options)

// WithAddr listens on addr instead of "127.0.0.1:0", e.g. "127.0.0.2:0" or
// "[::1]:0" for tests that need several distinct server addresses.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithZone makes the server authoritative for origin only (default "."):
// names outside it are REFUSED, unknown names inside it get NXDOMAIN.
func WithZone(origin string) Option { return func(o *options) { o.zone = dns.CanonicalName(origin) } }

// WithWildcard answers A and AAAA queries for any unknown name in the zone
// with WildcardA / WildcardAAAA, so tests need not add every name they ask.
func WithWildcard() Option { return func(o *options) { o.wildcard = true } }

// WithTLS also serves DNS over TLS with cert, on Server.TLSAddr.
func WithTLS(cert tls.Certificate) Option { return func(o *options) { o.tls = &cert } }

// WithHTTPS also serves DNS over HTTPS with cert, at Server.URL.
func WithHTTPS(cert tls.Certificate) Option { return func(o *options) { o.https = &cert } }

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{addr: "127.0.0.1:0", zone: "."}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		t:        t,
		zone:     o.zone,
		wildcard: o.wildcard,
		records:  make(map[string][]dns.RR),
		done:     make(chan struct{}),
	}
	pc, ln := listen(t, o.addr)
	s.Addr = pc.LocalAddr().String()
	s.udp, s.tcp = serveDNS(t, pc, ln, dns.HandlerFunc(s.serve))
	t.Cleanup(s.close)
	host, _, _ := net.SplitHostPort(s.Addr)
	if o.tls != nil {
		s.startTLS(host, *o.tls)
	}
	if o.https != nil {
		s.startHTTPS(host, *o.https)
	}
	return s
}

// listen opens UDP and TCP on the same port. With port 0 the kernel picks
// the UDP port, which may be taken for TCP; a few attempts settle that.
func listen(t testing.TB, addr string) (net.PacketConn, net.Listener) {
	t.Helper()
	pc, ln, err := tryListen(addr)
	if err != nil {
		t.Fatalf("dnstest: listen on %s: %v", addr, err)
	}
	return pc, ln
}

func (s *Server) close() {
	close(s.done)
	shutdownDNS(s.t, s.Addr, s.udp, s.tcp)
	if s.tlsLn != nil {
		s.tlsLn.Close()
		s.CloseTLSConns()
		s.tlsWG.Wait()
	}
	if s.https != nil {
		s.https.Close()
	}
}

// sleep waits for d or until done is closed (the server stops); it
// reports whether the server is still running. Server and Authority
// delay their answers with it.
func sleep(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-done:
		return false
	}
}
