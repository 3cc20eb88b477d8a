package upstream

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// result is the outcome of one request to one upstream: one UDP, TCP, TLS
// or HTTPS exchange. Its String is the metric label.
type result uint8

const (
	resSuccess    result = iota // a final answer (NOERROR, NXDOMAIN, ...)
	resTimeout                  // no reply before the try deadline
	resServfail                 // SERVFAIL: fail over
	resRefused                  // REFUSED: fail over
	resTruncated                // TC=1 over UDP: retried over TCP
	resMismatch                 // only replies not matching the query (spoofs?) before the deadline
	resError                    // network, TLS or HTTP error, bad reply
	resOtherRcode               // answered FORMERR, NOTIMP, ...: alive, but no use
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
	case resOtherRcode:
		return "other_rcode"
	case resCanceled:
		return "canceled"
	}
	return "error"
}

// Metrics counts upstream requests and exports each upstream's health.
// Construct it once per process (it registers its collectors) and share it
// across reloads; a nil *Metrics counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	healthy  *prometheus.GaugeVec
	srtt     *prometheus.GaugeVec
	probes   *prometheus.CounterVec
	conns    *prometheus.CounterVec
}

// NewMetrics creates the upstream metrics and registers them with reg
// (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	return &Metrics{
		requests: f.CounterVec("bulwark_upstream_requests_total", "Requests (one UDP or TCP exchange each) sent to upstream servers, by server as configured and result.", "upstream", "result"),
		duration: f.HistogramVec("bulwark_upstream_request_duration_seconds", "Time per upstream request, from send (or connect) to answer, timeout or error.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}, "upstream"),
		healthy: f.GaugeVec("bulwark_upstream_healthy", "1 while the upstream gets queries, 0 while its circuit breaker is open after consecutive failures.", "upstream"),
		srtt:    f.GaugeVec("bulwark_upstream_srtt_seconds", "Smoothed round-trip time of the upstream; failures count as the try timeout.", "upstream"),
		probes:  f.CounterVec("bulwark_upstream_probes_total", "Health probes sent to upstreams marked down, by result (success brings the upstream back).", "upstream", "result"),
		conns:   f.CounterVec("bulwark_upstream_connections_total", "TCP, TLS and HTTPS connections opened to the upstream (few means connections are reused).", "upstream"),
	}
}

// Forget deletes the series of upstreams a reload removed, so that a
// server that was down when it left the config does not keep
// bulwark_upstream_healthy at 0 (and an alert firing) forever.
func (m *Metrics) Forget(upstreams ...string) {
	if m == nil {
		return
	}
	for _, u := range upstreams {
		l := prometheus.Labels{"upstream": u}
		m.requests.DeletePartialMatch(l)
		m.duration.DeletePartialMatch(l)
		m.healthy.DeletePartialMatch(l)
		m.srtt.DeletePartialMatch(l)
		m.probes.DeletePartialMatch(l)
		m.conns.DeletePartialMatch(l)
	}
}

// serverMetrics are one upstream's series, looked up once in New so the
// hot path does no label hashing. The zero value counts nothing.
type serverMetrics struct {
	requests [numResults]prometheus.Counter
	duration prometheus.Observer
	healthy  prometheus.Gauge
	srtt     prometheus.Gauge
	probeOK  prometheus.Counter
	probeBad prometheus.Counter
	conns    prometheus.Counter
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
	sm.healthy = m.healthy.WithLabelValues(upstream)
	sm.healthy.Set(1)
	sm.srtt = m.srtt.WithLabelValues(upstream)
	sm.probeOK = m.probes.WithLabelValues(upstream, "success")
	sm.probeBad = m.probes.WithLabelValues(upstream, "failure")
	sm.conns = m.conns.WithLabelValues(upstream)
	return sm
}

func (sm *serverMetrics) observe(r result, d time.Duration) {
	if sm.duration == nil || r >= numResults {
		return
	}
	sm.requests[r].Inc()
	sm.duration.Observe(d.Seconds())
}

func (sm *serverMetrics) setHealthy(up bool) {
	if sm.healthy == nil {
		return
	}
	if up {
		sm.healthy.Set(1)
	} else {
		sm.healthy.Set(0)
	}
}

func (sm *serverMetrics) setSRTT(d time.Duration) {
	if sm.srtt != nil {
		sm.srtt.Set(d.Seconds())
	}
}

func (sm *serverMetrics) probe(ok bool) {
	switch {
	case sm.probeOK == nil:
	case ok:
		sm.probeOK.Inc()
	default:
		sm.probeBad.Inc()
	}
}

func (sm *serverMetrics) connOpened() {
	if sm.conns != nil {
		sm.conns.Inc()
	}
}

// transportFailure reports whether r means the server did not answer at
// all: only these count towards its circuit breaker. An rcode, even
// SERVFAIL, proves it is alive, and is often about the name asked, which a
// client could pick to knock a healthy upstream out.
func (r result) transportFailure() bool {
	return r == resTimeout || r == resMismatch || r == resError
}
