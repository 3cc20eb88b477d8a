package dnstest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/miekg/dns"
)

// DoHPath is where the DoH server answers.
const DoHPath = "/dns-query"

const dohMediaType = "application/dns-message"

type connKey struct{}

// startHTTPS serves DNS over HTTPS (RFC 8484: GET and POST, HTTP/2 and
// HTTP/1.1) on host, port chosen by the kernel.
func (s *Server) startHTTPS(host string, cert tls.Certificate) {
	hs := httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTPS))
	hs.Listener.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		s.t.Fatalf("dnstest: listen https: %v", err)
	}
	hs.Listener = ln
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.httpsConns.Add(1)
		}
	}
	hs.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, s.connSeq.Add(1))
	}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected certificates are the point of some tests
	hs.StartTLS()
	s.https = hs
	s.URL = hs.URL + DoHPath
}

// SetHTTPStatus makes the DoH server answer every request with this HTTP
// status and no DNS message (0: normal answers).
func (s *Server) SetHTTPStatus(code int) { s.httpStatus.Store(int32(code)) }

// HTTPSConns is the number of connections DoH clients have opened.
func (s *Server) HTTPSConns() int { return int(s.httpsConns.Load()) }

func (s *Server) serveHTTPS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != DoHPath {
		http.NotFound(w, r)
		return
	}
	var wire []byte
	var err error
	switch r.Method {
	case http.MethodGet:
		wire, err = base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
	case http.MethodPost:
		if r.Header.Get("Content-Type") != dohMediaType {
			http.Error(w, "want "+dohMediaType, http.StatusUnsupportedMediaType)
			return
		}
		wire, err = io.ReadAll(io.LimitReader(r.Body, dns.MaxMsgSize))
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	m := new(dns.Msg)
	if err != nil || m.Unpack(wire) != nil {
		http.Error(w, "not a DNS message", http.StatusBadRequest)
		return
	}
	id, _ := r.Context().Value(connKey{}).(uint64)
	cw := &captureWriter{remote: r.RemoteAddr}
	s.handle(cw, m, via{proto: "https", method: r.Method, httpMajor: r.ProtoMajor, conn: id, size: len(wire)})
	if code := int(s.httpStatus.Load()); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	if cw.msg == nil { // Timeout mode: hold the request until the client gives up
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	out, err := cw.msg.Pack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", dohMediaType)
	w.Write(out)
}

// captureWriter keeps the last message written: forged replies come
// first, the genuine one last.
type captureWriter struct {
	remote string
	msg    *dns.Msg
}

func (w *captureWriter) LocalAddr() net.Addr { return &net.TCPAddr{} }
func (w *captureWriter) RemoteAddr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", w.remote)
	if a == nil {
		return &net.TCPAddr{}
	}
	return a
}
func (w *captureWriter) WriteMsg(m *dns.Msg) error { w.msg = m; return nil }
func (w *captureWriter) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	w.msg = m
	return len(b), nil
}
func (w *captureWriter) Close() error        { return nil }
func (w *captureWriter) TsigStatus() error   { return nil }
func (w *captureWriter) TsigTimersOnly(bool) {}
func (w *captureWriter) Hijack()             {}
