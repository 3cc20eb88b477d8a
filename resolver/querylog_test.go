package resolver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// queryLine is a query log line as a log pipeline would decode it.
type queryLine struct {
	Time       time.Time `json:"time"`
	Client     string    `json:"client"`
	Protocol   string    `json:"protocol"`
	QName      string    `json:"qname"`
	QType      string    `json:"qtype"`
	Rcode      string    `json:"rcode"`
	DurationMS *float64  `json:"duration_ms"`
	Answers    *int      `json:"answers"`
}

func queryLines(t *testing.T, b []byte) []queryLine {
	t.Helper()
	var out []queryLine
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var q queryLine
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			t.Fatalf("query log line %s: %v", l, err)
		}
		out = append(out, q)
	}
	return out
}

// TestQueryLogThroughServer logs every query answered by the real server,
// over UDP and TCP, blocked or not, as one JSON line each.
func TestQueryLogThroughServer(t *testing.T) {
	tab := buildTable(t, list{info: blocklist.ListInfo{Name: "evil", Action: blocklist.ActionNXDomain}, names: []string{"evil.example"}})
	e := startEnv(t, tab, envOpts{})
	buf := &syncBuffer{}
	ql := logs.NewQueryLog(buf, 1, logs.NewMetrics(nil), nil)
	e.srv.SetObserver(ql)
	before := time.Now()
	e.query(t, "udp", "WWW.Example.org", dns.TypeA, true)
	e.query(t, "tcp", "sub.evil.example", dns.TypeAAAA, false)
	e.query(t, "udp", "www.example.org", 65280, false)
	ql.Close()

	lines := queryLines(t, []byte(buf.String()))
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	want := []queryLine{
		{Client: "127.0.0.1", Protocol: "udp", QName: "www.example.org", QType: "A", Rcode: "NOERROR"},
		{Client: "127.0.0.1", Protocol: "tcp", QName: "sub.evil.example", QType: "AAAA", Rcode: "NXDOMAIN"},
		{Client: "127.0.0.1", Protocol: "udp", QName: "www.example.org", QType: "TYPE65280", Rcode: "NOERROR"},
	}
	for i, l := range lines {
		w := want[i]
		if l.Client != w.Client || l.Protocol != w.Protocol || l.QName != w.QName || l.QType != w.QType || l.Rcode != w.Rcode {
			t.Errorf("line %d = %+v, want %+v", i, l, w)
		}
		if l.Time.Before(before.Add(-time.Second)) || time.Since(l.Time) > time.Minute {
			t.Errorf("line %d: time %v", i, l.Time)
		}
		if l.DurationMS == nil || *l.DurationMS < 0 || *l.DurationMS > 60000 {
			t.Errorf("line %d: duration_ms %v", i, l.DurationMS)
		}
		if l.Answers == nil {
			t.Errorf("line %d: no answers field", i)
		}
	}
	if *lines[0].Answers < 1 || *lines[1].Answers != 0 {
		t.Errorf("answers: %d and %d, want >=1 and 0", *lines[0].Answers, *lines[1].Answers)
	}
}

// TestQueryLogSampling logs about the configured fraction of queries.
func TestQueryLogSampling(t *testing.T) {
	for _, sample := range []float64{1, 0.5, 0.1, 0.001} {
		buf := &syncBuffer{}
		ql := logs.NewQueryLog(buf, sample, nil, nil)
		const n = 20000
		ev := query.Event{Received: time.Now(), Client: netip.MustParseAddrPort("10.0.0.1:53"), QName: "a.example.", QType: dns.TypeA}
		for i := 0; i < n; i++ {
			ql.Observe(ev)
		}
		ql.Close()
		got := strings.Count(buf.String(), "\n")
		// Binomial: mean n·p, sd sqrt(n·p·(1-p)); allow 8 sd.
		mean := n * sample
		slack := 8*math.Sqrt(n*sample*(1-sample)) + 1
		if math.Abs(float64(got)-mean) > slack {
			t.Errorf("sample %v: logged %d of %d, want %.0f ± %.0f", sample, got, n, mean, slack)
		}
	}
}

// blockingWriter blocks every write until released, like a stuck disk.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	b       bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestQueryLogDropsWhenBehind: a stuck writer never blocks Observe; what
// does not fit in the queue is dropped and counted, the rest is written
// once the disk recovers.
func TestQueryLogDropsWhenBehind(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := &blockingWriter{release: make(chan struct{})}
	ql := logs.NewQueryLog(w, 1, logs.NewMetrics(reg), nil)
	const n = 1<<16 + 5000
	ev := query.Event{Client: netip.MustParseAddrPort("10.0.0.1:53"), QName: "a.example.", QType: dns.TypeA}
	for i := 0; i < n; i++ {
		ql.Observe(ev)
	}
	dropped := metricValue(t, reg, "bulwark_querylog_dropped_total")
	if dropped < 4000 {
		t.Errorf("dropped = %v with a stuck writer, want at least 4000", dropped)
	}
	close(w.release)
	ql.Close()
	w.mu.Lock()
	written := bytes.Count(w.b.Bytes(), []byte("\n"))
	w.mu.Unlock()
	if float64(written)+dropped != n {
		t.Errorf("written %d + dropped %v != %d observed: lines lost without being counted", written, dropped, n)
	}
	// After Close, events are dropped and counted.
	ql.Observe(ev)
	if d := metricValue(t, reg, "bulwark_querylog_dropped_total"); d != dropped+1 {
		t.Errorf("dropped after Close = %v, want %v", d, dropped+1)
	}
}

// failingWriter fails while fail is set.
type failingWriter struct {
	mu   sync.Mutex
	fail bool
	b    bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, errors.New("no space left on device")
	}
	return w.b.Write(p)
}

// TestQueryLogWriteErrors: failed writes are counted as dropped lines and
// logged once; when the disk recovers, logging resumes.
func TestQueryLogWriteErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := &failingWriter{fail: true}
	var oplog syncBuffer
	ql := logs.NewQueryLog(w, 1, logs.NewMetrics(reg), slogTo(&oplog))
	ev := query.Event{Client: netip.MustParseAddrPort("10.0.0.1:53"), QName: "a.example.", QType: dns.TypeA}
	for i := 0; i < 10; i++ {
		ql.Observe(ev)
	}
	// Wait (boundedly) until the writer has tried and failed.
	for i := 0; i < 500 && metricValue(t, reg, "bulwark_querylog_dropped_total") < 10; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if d := metricValue(t, reg, "bulwark_querylog_dropped_total"); d != 10 {
		t.Fatalf("dropped = %v after failed writes, want 10", d)
	}
	w.mu.Lock()
	w.fail = false
	w.mu.Unlock()
	for i := 0; i < 3; i++ {
		ql.Observe(ev)
	}
	ql.Close()
	if got := bytes.Count(w.b.Bytes(), []byte("\n")); got != 3 {
		t.Errorf("%d lines after recovery, want 3", got)
	}
	out := oplog.String()
	if strings.Count(out, "query log write failed") != 1 || !strings.Contains(out, "no space left on device") || !strings.Contains(out, "writes succeed again") {
		t.Errorf("operator log:\n%s\nwant one failure naming the error, then recovery", out)
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
