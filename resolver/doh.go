package resolver

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dohPath is where RFC 8484 clients send queries.
const dohPath = "/dns-query"

const dohContentType = "application/dns-message"

// startHTTPS serves DNS over HTTPS (RFC 8484) on ln: GET with ?dns= and
// POST with an application/dns-message body, over HTTP/2 or HTTP/1.1.
func (s *Server) startHTTPS(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc(dohPath, s.serveDoH)
	hs := &http.Server{
		Handler:           mux,
		TLSConfig:         s.certs.tlsConfig("h2", "http/1.1"),
		ReadHeaderTimeout: s.cfg.TCPReadTimeout,
		ReadTimeout:       s.cfg.TCPReadTimeout + time.Second,
		IdleTimeout:       s.cfg.TCPIdleTimeout,
		ErrorLog:          slogErrorLog(s.logger),
	}
	s.mu.Lock()
	s.https = append(s.https, hs)
	s.mu.Unlock()
	s.listeners.Add(1)
	go func() {
		defer s.listeners.Done()
		if err := hs.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			s.logger.Error("doh server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

func (s *Server) serveDoH(w http.ResponseWriter, r *http.Request) {
	var pkt []byte
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query().Get("dns")
		if q == "" {
			http.Error(w, "missing dns parameter", http.StatusBadRequest)
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
	if !s.acquire() {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	}
	defer s.release()
	op := packetPool.Get().(*[]byte)
	defer packetPool.Put(op)
	out := s.h.serve(r.Context(), pkt, client, ProtoDoH, (*op)[:0])
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
