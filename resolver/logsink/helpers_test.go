package logsink

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promtest"
)

// testTimings keep retries quick without changing what is retried.
var testTimings = timings{closeGrace: 2 * time.Second, backoffMin: 20 * time.Millisecond,
	backoffMax: 200 * time.Millisecond, dial: 2 * time.Second, write: 5 * time.Second}

// records returns n distinct block log lines (the fields the block log
// writes, a category that needs escaping), tagged so that batches can be
// told apart.
func records(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b, _ := json.Marshal(map[string]string{
			"time": time.Date(2026, 12, 2, 10, 0, 0, i*1000, time.UTC).Format(time.RFC3339Nano), "client": "198.51.100.0/24",
			"protocol": "udp", "qname": fmt.Sprintf("%s-%d.evil.example", tag, i), "qtype": "A", "list": "phishing",
			"rule": `*.evil.example`, "action": "nxdomain", "category": `phish "quoted" ]`,
		})
		out[i] = b
	}
	return out
}

// startSink builds and starts a sink with quick timings and its own
// registry.
func startSink(t *testing.T, cfg Config) (*Sink, *prometheus.Registry) {
	t.Helper()
	cfg.SetDefaults()
	if errs := cfg.Validate("log.sinks[0]"); len(errs) > 0 {
		t.Fatal(errs)
	}
	reg := prometheus.NewRegistry()
	s, err := newSink(cfg, NewMetrics(reg), nil, testTimings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, reg
}

func writeAll(s *Sink, recs [][]byte) {
	for _, r := range recs {
		s.Write(append(append([]byte(nil), r...), '\n'))
	}
}

func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, reg, name, labels...)
}
