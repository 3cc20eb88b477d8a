package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dohMediaType is the RFC 8484 wire-format content type.
const dohMediaType = "application/dns-message"

// dohClient speaks DNS over HTTPS (RFC 8484) to one server: HTTP/2 where
// the server offers it (one connection, many concurrent streams), POST or
// GET.
type dohClient struct {
	url       string
	getPrefix string // url + "?dns=" (or "&dns="); "" for POST
	client    *http.Client
	tr        *http.Transport
}

func newDoH(s *server, conf *tls.Config, get bool) *dohClient {
	tr := &http.Transport{
		Proxy: nil, // a proxy's name would need resolving: by whom?
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return s.dialTCP(ctx) // always the configured or bootstrapped address
		},
		TLSClientConfig:     conf,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        maxStreamConns,
		MaxIdleConnsPerHost: maxStreamConns,
		IdleConnTimeout:     streamIdleTimeout,
		DisableCompression:  true,
		HTTP2: &http.HTTP2Config{
			// Ping a quiet connection so a dead one is found before a query
			// waits on it.
			SendPingTimeout: 15 * time.Second,
			PingTimeout:     5 * time.Second,
		},
	}
	d := &dohClient{
		url: s.ep.url,
		tr:  tr,
		client: &http.Client{
			Transport: tr,
			// A redirect would go elsewhere than the address we pinned.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if get {
		sep := "?"
		if strings.Contains(d.url, "?") {
			sep = "&"
		}
		d.getPrefix = d.url + sep + "dns="
	}
	return d
}

func (d *dohClient) close() { d.tr.CloseIdleConnections() }

// request builds the HTTP request for wire, a DNS message with ID 0.
func (d *dohClient) request(ctx context.Context, wire []byte) (*http.Request, error) {
	var req *http.Request
	var err error
	if d.getPrefix != "" {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, d.getPrefix+base64.RawURLEncoding.EncodeToString(wire), nil)
	} else {
		// A copy: the transport may still read the body (or re-read it
		// for a retry) after the pooled query buffer is reused.
		body := bytes.Clone(wire)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", dohMediaType)
		}
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", dohMediaType)
	return req, nil
}

// exchangeHTTPS asks q over HTTPS, with message ID 0 as RFC 8484 section
// 4.1 asks (the TLS session, not the ID, ties the answer to the query).
func (s *server) exchangeHTTPS(ctx context.Context, q *query, b *buffers, deadline time.Time) ([]byte, result, error) {
	start := time.Now()
	tctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	q.setID(0)
	q.pad()
	req, err := s.doh.request(tctx, q.udp())
	if err != nil {
		return nil, resError, s.errorf("https", "%w", err)
	}
	resp, err := s.doh.client.Do(req)
	if err != nil {
		return s.failure(ctx, "https", err, start, deadline, 0)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resError, s.errorf("https", "HTTP status %s", resp.Status)
	}
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); !strings.EqualFold(strings.TrimSpace(ct), dohMediaType) {
		return nil, resError, s.errorf("https", "content type %q, want %s", resp.Header.Get("Content-Type"), dohMediaType)
	}
	reply, err := readBody(resp.Body, b.reply[:])
	if err != nil {
		return s.failure(ctx, "https", err, start, deadline, 0)
	}
	if !q.matches(reply) {
		return nil, resMismatch, s.errorf("https", "%w: the reply is for another question", ErrMismatch)
	}
	wire, rcode, ok := relay(reply)
	if !ok {
		return nil, resError, s.errorf("https", "%w", errMalformed)
	}
	return s.classify(wire, rcode, "https")
}

// errTooLong: a DoH body larger than any DNS message.
var errTooLong = errors.New("reply body exceeds 65535 bytes")

// readBody reads a whole body into buf, growing it only for replies that
// do not fit, up to the largest DNS message.
func readBody(r io.Reader, buf []byte) ([]byte, error) {
	n := 0
	for {
		if n == len(buf) {
			if n > dns.MaxMsgSize {
				return nil, errTooLong
			}
			grown := make([]byte, min(2*len(buf), dns.MaxMsgSize+1))
			copy(grown, buf[:n])
			buf = grown
		}
		m, err := r.Read(buf[n:])
		n += m
		switch {
		case errors.Is(err, io.EOF):
			if n > dns.MaxMsgSize {
				return nil, errTooLong
			}
			return buf[:n], nil
		case err != nil:
			return nil, err
		}
	}
}
