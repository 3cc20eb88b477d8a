package logsink

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/bulwark-dns/bulwark/internal/secretref"
)

// maxRetryAfter caps a collector's Retry-After, so that a wrong header
// cannot park the sink for a day.
const maxRetryAfter = 5 * time.Minute

// httpSender posts batches of records to a collector.
type httpSender struct {
	cfg         *Config
	client      *http.Client
	contentType string
	gzip        bool
	headers     []string // sorted header names
}

func newHTTPSender(cfg *Config, addr string) (*httpSender, error) {
	tr := &http.Transport{
		// A log sink talks to the collector it names, never through the
		// environment's proxy settings.
		Proxy:                 nil,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.HTTP.Timeout,
		ForceAttemptHTTP2:     true,
	}
	if cfg.kind() == kindHTTPS {
		tc, err := cfg.TLS.client(addr)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	h := &httpSender{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.HTTP.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		gzip: *cfg.HTTP.Gzip, contentType: "application/x-ndjson"}
	if f := cfg.HTTP.Format; f == "splunk_hec" || f == "loki" {
		h.contentType = "application/json"
	}
	for k := range cfg.HTTP.Headers {
		h.headers = append(h.headers, k)
	}
	slices.Sort(h.headers)
	return h, nil
}

// batch is the body being built and how many records it holds.
type batch struct {
	body bytes.Buffer
	n    int
}

func (b *batch) reset() { b.body.Reset(); b.n = 0 }

// add appends one record in the collector's format.
func (h *httpSender) add(b *batch, line []byte, now time.Time) {
	w := &b.body
	switch h.cfg.HTTP.Format {
	case "elasticsearch":
		if h.cfg.HTTP.Index != "" {
			w.WriteString(`{"create":{"_index":`)
			writeJSONString(w, h.cfg.HTTP.Index)
			w.WriteString("}}\n")
		} else {
			w.WriteString("{\"create\":{}}\n")
		}
		w.Write(line)
		w.WriteByte('\n')
	case "splunk_hec":
		t := recordTimeOf(line, now)
		w.WriteString(`{"time":`)
		w.WriteString(strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64))
		w.WriteString(`,"source":"bulwark","sourcetype":"bulwark:`)
		w.WriteString(h.cfg.Log)
		w.WriteByte('"')
		if h.cfg.HTTP.Index != "" {
			w.WriteString(`,"index":`)
			writeJSONString(w, h.cfg.HTTP.Index)
		}
		w.WriteString(`,"event":`)
		w.Write(line)
		w.WriteString("}\n")
	case "loki":
		if b.n == 0 {
			w.WriteString(`{"streams":[{"stream":{"job":"bulwark","log":"` + h.cfg.Log + `"},"values":[`)
		} else {
			w.WriteByte(',')
		}
		w.WriteString(`["`)
		w.WriteString(strconv.FormatInt(recordTimeOf(line, now).UnixNano(), 10))
		w.WriteString(`",`)
		writeJSONString(w, string(line))
		w.WriteByte(']')
	default: // ndjson
		w.Write(line)
		w.WriteByte('\n')
	}
	b.n++
}

// body returns the finished request body.
func (h *httpSender) body(b *batch) ([]byte, error) {
	raw := b.body.Bytes()
	if h.cfg.HTTP.Format == "loki" {
		raw = append(slices.Clip(raw), "]}]}"...)
	}
	if !h.gzip {
		return raw, nil
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// outcome is what one attempt at a batch came to.
type outcome struct {
	retry      bool          // try the batch again
	after      time.Duration // the collector's Retry-After, 0 if none
	rejected   int           // records the collector refused for good
	err        error
	statusCode int
}

// post sends body once.
func (h *httpSender) post(ctx context.Context, body []byte, n int) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{rejected: n, err: err}
	}
	req.Header.Set("Content-Type", h.contentType)
	req.Header.Set("User-Agent", "bulwark-logsink")
	if h.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for _, k := range h.headers {
		v, err := secretref.Resolve(h.cfg.HTTP.Headers[k], "")
		if err != nil {
			// The secret may appear (a mounted file): retry, not drop.
			return outcome{retry: true, err: fmt.Errorf("header %s: %w", k, err)}
		}
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return outcome{retry: true, err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if h.cfg.HTTP.Format == "elasticsearch" {
			return outcome{rejected: bulkRejected(msg), statusCode: code}
		}
		return outcome{statusCode: code}
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return outcome{retry: true, after: retryAfter(resp.Header.Get("Retry-After")), statusCode: code,
			err: fmt.Errorf("%s", resp.Status)}
	case code == http.StatusRequestTimeout || code >= 500:
		return outcome{retry: true, statusCode: code, err: fmt.Errorf("%s", resp.Status)}
	default:
		// 4xx: the collector will not take this batch however often it
		// is sent (a bad token, a mapping error).
		return outcome{rejected: n, statusCode: code, err: fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg[:min(len(msg), 512)]))}
	}
}

// bulkRejected counts the items an Elasticsearch _bulk response refused.
func bulkRejected(body []byte) int {
	var r struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Status int `json:"status"`
		} `json:"items"`
	}
	if json.Unmarshal(body, &r) != nil || !r.Errors {
		return 0
	}
	n := 0
	for _, it := range r.Items {
		for _, op := range it {
			if op.Status >= 300 {
				n++
			}
		}
	}
	return n
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return max(0, min(d, maxRetryAfter))
}

// runHTTP batches records by count, size and time and posts each batch
// until the collector takes it: a collector that is down holds one batch
// here and the queue behind it, and past that records are dropped and
// counted, so memory stays bounded.
func (s *Sink) runHTTP(h *httpSender) {
	var (
		b       batch
		timer   = time.NewTimer(time.Hour)
		cfg     = &s.cfg.HTTP
		failing bool
	)
	timer.Stop()
	defer s.m.up.Set(0)
	send := func() bool {
		defer b.reset()
		timer.Stop()
		body, err := h.body(&b)
		if err != nil {
			s.logger.Error("log sink: cannot compress a batch; dropped", "err", err)
			s.m.send.Add(float64(b.n))
			return true
		}
		bo := s.backoff()
		for {
			o := h.post(s.stop, body, b.n)
			if !o.retry {
				s.m.sent.Add(float64(b.n - o.rejected))
				s.m.rejected.Add(float64(o.rejected))
				s.m.up.Set(1)
				if o.rejected > 0 {
					s.logger.Error("log sink: the collector rejected records", "records", o.rejected, "status", o.statusCode, "err", o.err)
				} else if failing {
					s.logger.Info("log sink: the collector takes records again")
				}
				failing = false
				return true
			}
			s.m.up.Set(0)
			if !failing {
				s.logger.Warn("log sink: the collector did not take a batch; retrying", "err", o.err)
				failing = true
			}
			wait := bo.next()
			if o.after > 0 {
				wait = o.after
			}
			if !s.wait(wait) {
				s.dropRest(b.n)
				return false
			}
			s.m.retries.Inc()
		}
	}
	full := func() bool { return b.n >= cfg.BatchRecords || b.body.Len() >= cfg.BatchBytes }
	for {
		select {
		case line := <-s.ch:
			h.add(&b, line, s.now())
			if b.n == 1 {
				timer.Reset(cfg.BatchDelay)
			}
			s.m.queued.Set(float64(len(s.ch)))
			if full() && !send() {
				return
			}
		case <-timer.C:
			if b.n > 0 && !send() {
				return
			}
		case <-s.quit:
			for {
				line, ok := s.pending()
				if !ok {
					break
				}
				h.add(&b, line, s.now())
				if full() && !send() {
					return
				}
			}
			if b.n > 0 {
				send()
			}
			return
		}
	}
}

// recordTimeOf is the record's time for collectors that index by it.
func recordTimeOf(line []byte, now time.Time) time.Time {
	// The logs write "time" first; a cheap look before a full parse.
	const prefix = `{"time":"`
	if bytes.HasPrefix(line, []byte(prefix)) {
		if end := bytes.IndexByte(line[len(prefix):], '"'); end > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(line[len(prefix):len(prefix)+end])); err == nil {
				return t
			}
		}
	}
	fields, _ := parseRecord(line)
	return recordTime(fields, now)
}

func writeJSONString(w *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	w.Write(b)
}
