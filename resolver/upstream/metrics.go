package upstream

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// result is the outcome of one request to one upstream: one UDP or TCP
// exchange. Its String is the metric label.
type result uint8

const (
	resSuccess   result = iota // a final answer (NOERROR, NXDOMAIN, ...)
	resTimeout                 // no reply before the try deadline
	resServfail                // SERVFAIL: fail over
	resRefused                 // REFUSED: fail over
	resTruncated               // TC=1 over UDP: retried over TCP
	resMismatch                // only replies not matching the query (spoofs?) before the deadline
	resError                   // network error, bad reply, other rcodes
	numResults
	resCanceled // the client went away: not the upstream's fault, not counted
)

func (r result) String() string {
	switch r {
	case resSuccess:
		return "success"
	case resTimeout:
		return "timeout"
	case resServfail:
		return "servfail"
	case resRefused:
		return "refused"
	case resTruncated:
		return "truncated"
	case resMismatch:
		return "mismatch"
	case resCanceled:
		return "canceled"
	}
	return "error"
}

// Metrics counts upstream requests. Construct it once per process (it
// registers its collectors) and share it across reloads; a nil *Metrics
// counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the upstream metrics and registers them with reg
// (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_upstream_requests_total",
			Help: "Requests (one UDP or TCP exchange each) sent to upstream servers, by server as configured and result.",
		}, []string{"upstream", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bulwark_upstream_request_duration_seconds",
			Help:    "Time per upstream request, from send to answer, timeout or error.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"upstream"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

// serverMetrics are one upstream's series, looked up once in New so the
// hot path does no label hashing. The zero value counts nothing.
type serverMetrics struct {
	requests [numResults]prometheus.Counter
	duration prometheus.Observer
}

// forServer resolves (and so exports, at zero) every series of upstream.
func (m *Metrics) forServer(upstream string) serverMetrics {
	var sm serverMetrics
	if m == nil {
		return sm
	}
	for r := range numResults {
		sm.requests[r] = m.requests.WithLabelValues(upstream, r.String())
	}
	sm.duration = m.duration.WithLabelValues(upstream)
	return sm
}

func (sm *serverMetrics) observe(r result, d time.Duration) {
	if sm.duration == nil || r >= numResults {
		return
	}
	sm.requests[r].Inc()
	sm.duration.Observe(d.Seconds())
}
