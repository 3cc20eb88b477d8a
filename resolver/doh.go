package resolver

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// dohPath is where RFC 8484 clients send queries.
const dohPath = "/dns-query"

const dohContentType = "application/dns-message"

// dohMaxGetParam is the longest ?dns= value: a 64 KiB message in
// unpadded base64url.
var dohMaxGetParam = base64.RawURLEncoding.EncodedLen(dns.MaxMsgSize)

// dohMaxHeaderBytes bounds the request line and headers: room for the
// largest GET query and ordinary headers, far below net/http's 1 MiB.
const dohMaxHeaderBytes = 96 << 10

// dohServer serves DNS over HTTPS (RFC 8484) on one socket: GET with
// ?dns= and POST with an application/dns-message body, over HTTP/2 or
// HTTP/1.1. One accept loop hands the socket's connections to the current
// http.Server, so that a reload changing the HTTP timeouts replaces the
// http.Server (the old one finishes its requests) without closing the
// socket.
type dohServer struct {
	ln    net.Listener  // the socket, behind the connection limit
	conns chan net.Conn // accepted, waiting for the current http.Server
	quit  chan struct{} // closed by stop: the accept loop ends
	once  sync.Once

	mu sync.Mutex
	hs *http.Server // current
}

func newDoHServer(ln net.Listener) *dohServer {
	return &dohServer{ln: ln, conns: make(chan net.Conn), quit: make(chan struct{})}
}

// start runs the accept loop and the first http.Server.
func (d *dohServer) start(s *Server) {
	s.listeners.Add(1)
	go d.accept(s)
	d.restart(s)
}

func (d *dohServer) accept(s *Server) {
	defer s.listeners.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			select {
			case <-d.quit:
				return
			default:
			}
			if isClosed(err) || s.closing.Load() {
				return
			}
			s.logger.Debug("accept", "proto", query.ProtoDoH.String(), "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: don't spin
			continue
		}
		select {
		case d.conns <- c:
		case <-d.quit:
			c.Close()
			return
		}
	}
}

// restart serves the socket with a new http.Server built from the
// settings in force, and shuts the previous one down gracefully.
func (d *dohServer) restart(s *Server) {
	cfg := s.settings()
	mux := http.NewServeMux()
	mux.HandleFunc(dohPath, s.serveDoH)
	mux.HandleFunc(dohPath+"/{id}", s.serveDoH) // a tenant's endpoint (tenantid.go)
	hs := &http.Server{
		Handler:           mux,
		TLSConfig:         s.tlsConfig("h2", "http/1.1"),
		ReadHeaderTimeout: cfg.TCPReadTimeout,
		ReadTimeout:       cfg.TCPReadTimeout + time.Second,
		IdleTimeout:       cfg.TCPIdleTimeout,
		MaxHeaderBytes:    dohMaxHeaderBytes,
		ErrorLog:          slogErrorLog(s.logger),
	}
	g := &dohGate{d: d, closed: make(chan struct{})}
	d.mu.Lock()
	old := d.hs
	d.hs = hs
	d.mu.Unlock()
	s.listeners.Add(1)
	go func() {
		defer s.listeners.Done()
		if err := hs.ServeTLS(g, "", ""); err != nil && err != http.ErrServerClosed {
			s.logger.Error("doh server stopped", "addr", d.ln.Addr().String(), "err", err)
		}
	}()
	if old != nil {
		d.shutdown(s, old)
	}
}

// stop stops accepting and shuts the http.Server down gracefully:
// requests being answered finish, idle connections close.
func (d *dohServer) stop(s *Server) {
	d.once.Do(func() { close(d.quit) })
	d.ln.Close()
	d.mu.Lock()
	hs := d.hs
	d.mu.Unlock()
	if hs != nil {
		d.shutdown(s, hs)
	}
}

// shutdown runs hs.Shutdown in the background, so that the other
// listeners drain at the same time.
func (d *dohServer) shutdown(s *Server, hs *http.Server) {
	s.listeners.Add(1)
	go func() {
		defer s.listeners.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}()
}

// close closes the current http.Server and its connections at once.
func (d *dohServer) close() {
	d.mu.Lock()
	hs := d.hs
	d.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
}

// dohGate is the listener one http.Server serves: it takes connections
// from the socket's accept loop until that server closes it.
type dohGate struct {
	d      *dohServer
	closed chan struct{}
	once   sync.Once
}

func (g *dohGate) Accept() (net.Conn, error) {
	select {
	case c := <-g.d.conns:
		return c, nil
	case <-g.closed:
		return nil, net.ErrClosed
	case <-g.d.quit:
		return nil, net.ErrClosed
	}
}

func (g *dohGate) Close() error {
	g.once.Do(func() { close(g.closed) })
	return nil
}

func (g *dohGate) Addr() net.Addr { return g.d.ln.Addr() }

func (s *Server) serveDoH(w http.ResponseWriter, r *http.Request) {
	var pkt []byte
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query().Get("dns")
		if q == "" {
			http.Error(w, "missing dns parameter", http.StatusBadRequest)
			return
		}
		// The same bound as a POST body: one DNS message at most.
		if len(strings.TrimRight(q, "=")) > dohMaxGetParam {
			http.Error(w, "dns parameter longer than one DNS message", http.StatusRequestURITooLong)
			return
		}
		// RFC 8484 §4.1: base64url without padding; tolerate padding.
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(q, "="))
		if err != nil {
			http.Error(w, "dns parameter is not base64url", http.StatusBadRequest)
			return
		}
		pkt = b
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != dohContentType {
			http.Error(w, "content type must be "+dohContentType, http.StatusUnsupportedMediaType)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, dns.MaxMsgSize))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		pkt = b
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if len(pkt) == 0 {
		http.Error(w, "empty DNS message", http.StatusBadRequest)
		return
	}
	client, _ := netip.ParseAddrPort(r.RemoteAddr)
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	if !s.h.cur.Load().pipe.Admits(client.Addr()) {
		// Outside the ACL: this answer (REFUSED, or a reset with
		// action drop) is the connection's last (GOAWAY on HTTP/2).
		w.Header().Set("Connection", "close")
	}
	if !s.acquire() {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	}
	defer s.release()
	op := packetPool.Get().(*[]byte)
	defer packetPool.Put(op)
	// The lookup runs under the server's context, not the request's: a
	// client that resets its stream does not stop the work it started
	// (the cache's coalesced lookup runs on regardless), so the slot is
	// held until that work ends, as for UDP and TCP; otherwise abandoned
	// requests would escape max_inflight.
	out := s.h.serve(s.ctx, pkt, client, query.ProtoDoH, s.dohID(r), (*op)[:0])
	if out == nil {
		// Silence has no HTTP form; resetting the stream is the closest.
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", dohContentType)
	if age, ok := minTTL(out); ok {
		// RFC 8484 §5.1: HTTP caches must not outlive the DNS answer.
		w.Header().Set("Cache-Control", "max-age="+strconv.FormatUint(uint64(age), 10))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// minTTL is the smallest TTL of the records in a packed answer.
func minTTL(wire []byte) (uint32, bool) {
	var m dns.Msg
	if err := m.Unpack(wire); err != nil {
		return 0, false
	}
	var min uint32
	found := false
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			if t := rr.Header().Ttl; !found || t < min {
				min, found = t, true
			}
		}
	}
	return min, found
}
