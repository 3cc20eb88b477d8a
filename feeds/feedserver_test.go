package feeds

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promtest"
	"github.com/bulwark-dns/bulwark/internal/syncbuf"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// Failure modes of feedServer.
const (
	modeOK       = ""
	mode500      = "500"
	modeSlow     = "slow"      // headers, half the body, then nothing
	modeTruncate = "truncate"  // Content-Length promises more than is sent
	modeChunked  = "chunked"   // no Content-Length (for streaming size limits)
	modeGzip     = "gzip"      // Content-Encoding: gzip
	modeGzipFile = "gzip-file" // a .gz file served as is
	modeBadGzip  = "bad-gzip"  // gzip magic, then garbage
	modeHTML     = "html"      // a 200 login page
)

// feedServer is a real HTTP feed on loopback whose content and behaviour
// a test changes as it goes. It honours If-None-Match with a strong ETag
// of the body, like the real feed hosts do.
type feedServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	mode    string
	noETag  bool
	lastMod bool // send Last-Modified and honour If-Modified-Since
	hits    atomic.Int32
	full    atomic.Int32 // 200 answers
	headers http.Header  // of the last request
}

func newFeedServer(t *testing.T, body string) *feedServer {
	t.Helper()
	return newFeedServerOpts(t, body, false, false)
}

func newFeedServerOpts(t *testing.T, body string, noETag, lastMod bool) *feedServer {
	t.Helper()
	s := &feedServer{body: []byte(body), noETag: noETag, lastMod: lastMod}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *feedServer) set(body, mode string) {
	s.mu.Lock()
	s.body, s.mode = []byte(body), mode
	s.mu.Unlock()
}

func (s *feedServer) lastHeaders() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers.Clone()
}

func (s *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	body, mode, noETag, lastMod := s.body, s.mode, s.noETag, s.lastMod
	s.headers = r.Header.Clone()
	s.mu.Unlock()
	sum := sha256.Sum256(append([]byte(mode), body...))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if !noETag {
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag && mode == modeOK {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if lastMod {
		const stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
		w.Header().Set("Last-Modified", stamp)
		if r.Header.Get("If-Modified-Since") == stamp && mode == modeOK {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	s.full.Add(1)
	switch mode {
	case mode500:
		http.Error(w, "upstream exploded", http.StatusInternalServerError)
	case modeSlow:
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	case modeTruncate:
		w.Header().Set("Content-Length", fmt.Sprint(len(body)+100))
		_, _ = w.Write(body)
	case modeChunked:
		for i := 0; i < len(body); i += 512 {
			_, _ = w.Write(body[i:min(i+512, len(body))])
			w.(http.Flusher).Flush()
		}
	case modeGzip, modeGzipFile:
		if mode == modeGzip {
			w.Header().Set("Content-Encoding", "gzip")
		} else {
			w.Header().Set("Content-Type", "application/gzip")
		}
		zw := gzip.NewWriter(w)
		_, _ = zw.Write(body)
		_ = zw.Close()
	case modeBadGzip:
		_, _ = w.Write(append([]byte{0x1f, 0x8b, 8, 0}, bytes.Repeat([]byte{0xAA}, 100)...))
	case modeHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><body>Please log in</body></html>\n"))
	default:
		_, _ = w.Write(body)
	}
}

// domainsBody is a domains list of n names, "prefix0.example" onwards.
func domainsBody(prefix string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s%d.example\n", prefix, i)
	}
	return b.String()
}

// logBuffer collects log output safely across goroutines.
type logBuffer = syncbuf.Buffer

// testManager is a Manager with its registry and log, started.
type testManager struct {
	*Manager
	reg  *prometheus.Registry
	logs *logBuffer
}

// newTestManager builds (not starts) a Manager; edit adjusts the options.
func newTestManager(t *testing.T, edit func(o *Options)) *testManager {
	t.Helper()
	tm := &testManager{reg: prometheus.NewRegistry(), logs: &logBuffer{}}
	o := Options{
		Logger:  slog.New(slog.NewTextHandler(tm.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: NewMetrics(tm.reg),
		Version: "test",
		Poll:    5 * time.Millisecond,
	}
	// A bound against a hung fetch, as long as a wait's (tests of the
	// timeout set their own): at 5s a loaded machine failed a fetch of
	// three small loopback files (TestMISPFeedResumes, "context deadline
	// exceeded (timeout 5s)", 5.6s where the same fetch took 24ms).
	o.Config.Timeout = wait.Bound
	if edit != nil {
		edit(&o)
	}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	tm.Manager = m
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Logf("manager log:\n%s", tm.logs.String())
		}
	})
	return tm
}

func (tm *testManager) start(t *testing.T) {
	t.Helper()
	// The background refreshes live until Close (registered cleanup).
	if err := tm.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// metric sums the gauge or counter name over series with the given labels.
func (tm *testManager) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, tm.reg, name, labels...)
}

// blocked reports whether the served table blocks name.
func (tm *testManager) blocked(name string) bool {
	t := tm.Load()
	if t == nil {
		return false
	}
	m, ok := t.Set.Match(name)
	return ok && !m.Allow
}
