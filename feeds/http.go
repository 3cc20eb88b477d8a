package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// httpSource downloads a list over HTTP(S) with a conditional GET, so that
// an unchanged feed costs a 304 and no parse.
type httpSource struct {
	url       string
	shown     string // redacted URL for messages
	client    *http.Client
	userAgent string
	headers   map[string]string // config values, resolved at each request
	baseDir   string            // for "file:" header values
	maxSize   int64
}

func (s *httpSource) String() string { return s.shown }
func (s *httpSource) Remote() bool   { return true }

func (s *httpSource) Fetch(ctx context.Context, prev Validators) (*Response, error) {
	req, err := s.newRequest(ctx, http.MethodGet, s.url, s.shown, nil)
	if err != nil {
		return nil, err
	}
	// Asking for gzip ourselves turns off the transport's transparent
	// decompression, so download bytes are counted as sent and the size
	// bound applies to both forms; parseCopy decompresses.
	req.Header.Set("Accept-Encoding", "gzip")
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := s.do(req, s.shown)
	if err != nil {
		return nil, err
	}
	v := Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		if v.ETag == "" {
			v.ETag = prev.ETag
		}
		if v.LastModified == "" {
			v.LastModified = prev.LastModified
		}
		return &Response{NotModified: true, Validators: v}, nil
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: HTTP %s", s.shown, resp.Status)
	case s.maxSize > 0 && resp.ContentLength > s.maxSize:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: the list is %d bytes, more than max_size %s", s.shown, resp.ContentLength, ByteSize(s.maxSize))
	}
	return &Response{Body: resp.Body, Validators: v}, nil
}

// newRequest is a request for target (shown: redacted, for errors) with
// the list's configured headers and Bulwark's User-Agent: the part every
// request to a list's server shares, a list download's or an intel API's.
func (s *httpSource) newRequest(ctx context.Context, method, target, shown string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, shown, errors.Unwrap(err))
	}
	for _, k := range sortedKeys(s.headers) {
		v, err := resolveHeader(s.headers[k], s.baseDir)
		if err != nil {
			return nil, fmt.Errorf("%s %s: header %s: %w", method, shown, k, err)
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", s.userAgent)
	return req, nil
}

// do sends req under the source's redirect policy (checkRedirect).
func (s *httpSource) do(req *http.Request, shown string) (*http.Response, error) {
	client := *s.client // shares the transport; only the redirect policy differs
	client.CheckRedirect = s.checkRedirect
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its message repeats the unredacted URL
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, shown, err)
	}
	return resp, nil
}

// maxRedirects bounds a redirect chain, as net/http does by default.
const maxRedirects = 10

// checkRedirect follows redirects like net/http, but never from https to
// plain http (the list could then be altered on the way), and drops the
// configured headers when the redirect leaves the original host: net/http
// only drops Authorization and Cookie, and an API key in X-Api-Key must
// not reach a mirror or a CDN it was not meant for.
func (s *httpSource) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect from https to %s://%s", req.URL.Scheme, req.URL.Host)
	}
	if req.URL.Host != first.Host {
		for k := range s.headers {
			req.Header.Del(k)
		}
	}
	return nil
}

// errTooBig is returned by limitReader past its bound.
var errTooBig = errors.New("more than max_size")

// limitReader fails with errTooBig once more than n bytes were read, so a
// runaway body (or gzip bomb) is an error, never a silently cut list.
type limitReader struct {
	r    io.Reader
	n    int64 // bytes still allowed
	size ByteSize
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, fmt.Errorf("the list is %w %s", errTooBig, l.size)
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, fmt.Errorf("the list is %w %s", errTooBig, l.size)
	}
	return n, err
}

func newLimitReader(r io.Reader, max int64) io.Reader {
	if max <= 0 {
		return r
	}
	return &limitReader{r: r, n: max, size: ByteSize(max)}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
