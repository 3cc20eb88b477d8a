package logsink

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/wait"
)

// collector is an HTTP log collector whose behaviour a test scripts: each
// request takes the next status from script (200 once it runs out); a
// request it takes is recorded, decoded.
type collector struct {
	t      *testing.T
	mu     sync.Mutex
	script []int
	stall  chan struct{} // while non-nil, requests wait on it
	bodies [][]byte      // the bodies it took, gunzipped
	hdrs   []http.Header
	reqs   atomic.Int64
	srv    *httptest.Server
}

func newCollector(t *testing.T, script ...int) *collector {
	c := &collector{t: t, script: script}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	c.reqs.Add(1)
	c.mu.Lock()
	stall := c.stall
	c.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	c.mu.Lock()
	code := http.StatusOK
	if len(c.script) > 0 {
		code, c.script = c.script[0], c.script[1:]
	}
	c.mu.Unlock()
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(r.Body)
		if err != nil {
			c.t.Errorf("collector: body is not gzip: %v", err)
			w.WriteHeader(400)
			return
		}
		body = z
	}
	b, err := io.ReadAll(body)
	if err != nil {
		c.t.Errorf("collector: %v", err)
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	if code != http.StatusOK {
		return
	}
	c.mu.Lock()
	c.bodies = append(c.bodies, b)
	c.hdrs = append(c.hdrs, r.Header.Clone())
	c.mu.Unlock()
}

func (c *collector) taken() ([][]byte, []http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.bodies...), append([]http.Header(nil), c.hdrs...)
}

// ndjsonLines splits the NDJSON bodies taken into records.
func ndjsonLines(bodies [][]byte) []string {
	var out []string
	for _, b := range bodies {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			out = append(out, sc.Text())
		}
	}
	return out
}

func sameRecords(t *testing.T, got []string, sent [][]byte) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("collector took %d records, want %d", len(got), len(sent))
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, s := range sent {
		if seen[string(s)] != 1 {
			t.Errorf("record %s taken %d times", s, seen[string(s)])
		}
	}
}

// The collector fails with 500s, then a 429 with Retry-After, then takes
// records: the batch is retried until taken, in order, nothing is lost or
// duplicated, and the retries are counted.
func TestHTTPSinkRetriesUntilTaken(t *testing.T) {
	c := newCollector(t, 500, 502, 429, 503)
	s, reg := startSink(t, Config{URL: c.srv.URL + "/ingest", HTTP: HTTPConfig{BatchRecords: 25, BatchDelay: 50 * time.Millisecond,
		Headers: map[string]string{"Authorization": "Bearer ${BULWARK_SINK_TEST_TOKEN}"}}})
	t.Setenv("BULWARK_SINK_TEST_TOKEN", "s3cr3t")
	sent := records("r", 100)
	writeAll(s, sent)
	wait.For(t, "every record taken", func() bool { b, _ := c.taken(); return len(ndjsonLines(b)) >= 100 })
	bodies, hdrs := c.taken()
	sameRecords(t, ndjsonLines(bodies), sent)
	for _, h := range hdrs {
		if h.Get("Authorization") != "Bearer s3cr3t" || h.Get("Content-Type") != "application/x-ndjson" || h.Get("Content-Encoding") != "gzip" {
			t.Errorf("headers %v", h)
		}
	}
	if r := metric(t, reg, "bulwark_log_sink_retries_total", "sink", s.Name()); r < 4 {
		t.Errorf("retries_total %v, want at least the 4 failed attempts", r)
	}
	if d := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name()); d != 0 {
		t.Errorf("dropped %v", d)
	}
	if metric(t, reg, "bulwark_log_sink_up", "sink", s.Name()) != 1 {
		t.Error("up is not 1 after the collector recovered")
	}
}

// A collector that stalls holds one batch and the queue; past the queue,
// records are dropped and counted, Write never blocks, and once the
// collector recovers the queued records arrive.
func TestHTTPSinkStallIsBounded(t *testing.T) {
	c := newCollector(t)
	stall := make(chan struct{})
	c.stall = stall
	s, reg := startSink(t, Config{URL: c.srv.URL, Queue: 50, HTTP: HTTPConfig{BatchRecords: 10, BatchDelay: 20 * time.Millisecond, Timeout: time.Minute}})
	writeAll(s, records("first", 10)) // one batch, now stuck in the collector
	wait.For(t, "the first batch reached the collector", func() bool { return c.reqs.Load() >= 1 })
	writeAll(s, records("burst", 500)) // 50 fit in the queue
	dropped := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name(), "reason", "queue_full")
	if dropped < 400 || dropped > 450 {
		t.Errorf("queue_full drops %v, want about 450 (500 written, queue 50, one batch in flight)", dropped)
	}
	c.mu.Lock()
	c.stall = nil
	c.mu.Unlock()
	close(stall)
	want := 10 + 500 - int(dropped)
	wait.For(t, "the queued records arrived", func() bool { b, _ := c.taken(); return len(ndjsonLines(b)) >= want })
	if b, _ := c.taken(); len(ndjsonLines(b)) != want {
		t.Errorf("took %d, want %d", len(ndjsonLines(b)), want)
	}
}

// A 4xx other than 408 and 429 is final: the batch is dropped as rejected
// and the sink moves on.
func TestHTTPSinkRejected(t *testing.T) {
	c := newCollector(t, 400)
	s, reg := startSink(t, Config{URL: c.srv.URL, HTTP: HTTPConfig{BatchRecords: 10, BatchDelay: 20 * time.Millisecond}})
	writeAll(s, records("a", 10))
	wait.For(t, "the batch was rejected", func() bool {
		return metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name(), "reason", "rejected") == 10
	})
	next := records("b", 10)
	writeAll(s, next)
	wait.For(t, "the next batch taken", func() bool { b, _ := c.taken(); return len(ndjsonLines(b)) == 10 })
	b, _ := c.taken()
	sameRecords(t, ndjsonLines(b), next)
}

// Close gives up on a collector that never answers within the grace
// period and counts what it could not send.
func TestHTTPSinkCloseBounded(t *testing.T) {
	c := newCollector(t)
	c.stall = make(chan struct{})
	t.Cleanup(func() { close(c.stall) })
	s, reg := startSink(t, Config{URL: c.srv.URL, HTTP: HTTPConfig{BatchRecords: 10, BatchDelay: 20 * time.Millisecond, Timeout: time.Minute}})
	writeAll(s, records("a", 30))
	wait.For(t, "a batch reached the collector", func() bool { return c.reqs.Load() >= 1 })
	s.Close() // returns after the grace period; a hang fails the test by timeout
	if d := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name(), "reason", "shutdown"); d != 30 {
		t.Errorf("shutdown drops %v, want 30", d)
	}
	s.Write([]byte("{\"late\":1}\n"))
	if d := metric(t, reg, "bulwark_log_sink_dropped_total", "sink", s.Name(), "reason", "shutdown"); d != 31 {
		t.Errorf("a record written after Close: shutdown drops %v, want 31", d)
	}
}

// Each collector format, decoded as that collector would.
func TestHTTPSinkFormats(t *testing.T) {
	sent := records("f", 3)
	tests := []struct {
		format, index string
		contentType   string
		check         func(t *testing.T, body []byte)
	}{
		{"ndjson", "", "application/x-ndjson", func(t *testing.T, body []byte) {
			sameRecords(t, ndjsonLines([][]byte{body}), sent)
		}},
		{"elasticsearch", "bulwark-blocks", "application/x-ndjson", func(t *testing.T, body []byte) {
			lines := ndjsonLines([][]byte{body})
			var docs []string
			for i := 0; i < len(lines); i += 2 {
				if lines[i] != `{"create":{"_index":"bulwark-blocks"}}` {
					t.Errorf("action line %q", lines[i])
				}
				docs = append(docs, lines[i+1])
			}
			sameRecords(t, docs, sent)
		}},
		{"splunk_hec", "dns", "application/json", func(t *testing.T, body []byte) {
			dec := json.NewDecoder(bytes.NewReader(body))
			var docs []string
			for dec.More() {
				var ev struct {
					Time       float64         `json:"time"`
					Source     string          `json:"source"`
					Sourcetype string          `json:"sourcetype"`
					Index      string          `json:"index"`
					Event      json.RawMessage `json:"event"`
				}
				if err := dec.Decode(&ev); err != nil {
					t.Fatal(err)
				}
				if ev.Sourcetype != "bulwark:blocked" || ev.Index != "dns" || ev.Time < 1.7e9 {
					t.Errorf("HEC event %+v", ev)
				}
				docs = append(docs, string(ev.Event))
			}
			sameRecords(t, docs, sent)
		}},
		{"loki", "", "application/json", func(t *testing.T, body []byte) {
			var push struct {
				Streams []struct {
					Stream map[string]string `json:"stream"`
					Values [][2]string       `json:"values"`
				} `json:"streams"`
			}
			if err := json.Unmarshal(body, &push); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if len(push.Streams) != 1 || push.Streams[0].Stream["log"] != "blocked" {
				t.Fatalf("streams %+v", push.Streams)
			}
			var docs []string
			for _, v := range push.Streams[0].Values {
				if !strings.HasPrefix(v[0], "17") || len(v[0]) != 19 {
					t.Errorf("timestamp %q is not Unix nanoseconds", v[0])
				}
				docs = append(docs, v[1])
			}
			sameRecords(t, docs, sent)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			c := newCollector(t)
			gz := tt.format != "loki"
			s, _ := startSink(t, Config{URL: c.srv.URL, HTTP: HTTPConfig{Format: tt.format, Index: tt.index, Gzip: &gz, BatchRecords: 3}})
			writeAll(s, sent)
			wait.For(t, "the batch taken", func() bool { b, _ := c.taken(); return len(b) == 1 })
			b, h := c.taken()
			if ct := h[0].Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if (h[0].Get("Content-Encoding") == "gzip") != gz {
				t.Errorf("Content-Encoding %q with gzip %v", h[0].Get("Content-Encoding"), gz)
			}
			tt.check(t, b[0])
		})
	}
}

// An Elasticsearch _bulk answer of 200 with item errors counts those items
// as rejected.
func TestBulkRejected(t *testing.T) {
	body := []byte(`{"took":3,"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"mapper_parsing_exception"}}},{"create":{"status":429}}]}`)
	if n := bulkRejected(body); n != 2 {
		t.Errorf("bulkRejected = %d, want 2", n)
	}
	if n := bulkRejected([]byte(`{"errors":false,"items":[{"create":{"status":201}}]}`)); n != 0 {
		t.Errorf("no errors: %d", n)
	}
}

func TestRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "-1": 0, "86400": maxRetryAfter, "soon": 0} {
		if got := retryAfter(v); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
