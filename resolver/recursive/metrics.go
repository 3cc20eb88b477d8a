package recursive

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Exchange results, the label values of bulwark_recursion_exchanges_total.
const (
	resultReply    = "reply"    // a reply matching the query (any rcode)
	resultTimeout  = "timeout"  // none before the per-try timeout
	resultMismatch = "mismatch" // only replies not matching (spoofs?), or 0x20 case mangled
	resultError    = "error"    // network error (unreachable, refused connection)
)

// Fallbacks, the label values of bulwark_recursion_fallbacks_total.
const (
	fallbackTCP  = "tcp"        // truncated over UDP
	fallbackEDNS = "no_edns"    // FORMERR/NOTIMP to EDNS
	fallbackCase = "no_0x20"    // the server does not preserve case
	fallbackQmin = "full_qname" // QNAME minimisation relaxed (RFC 9156 §3)
)

// Failure reasons, the label values of bulwark_recursion_failures_total.
const (
	failBudget   = "query_budget"
	failTime     = "time_budget"
	failDepth    = "depth"
	failChain    = "chain"
	failLoop     = "loop"
	failServers  = "servers"
	failCanceled = "canceled"
	failOther    = "other"
)

// Metrics observe recursion. Construct once per process (it registers its
// collectors); a nil *Metrics counts nothing.
type Metrics struct {
	queries   prometheus.Histogram
	depth     prometheus.Histogram
	referrals prometheus.Histogram
	timeouts  prometheus.Counter
	lame      prometheus.Counter
	exchanges *prometheus.CounterVec
	fallbacks *prometheus.CounterVec
	failures  *prometheus.CounterVec
}

// NewMetrics creates the recursion metrics and registers them with reg (if
// non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	m := &Metrics{
		queries: f.Histogram("bulwark_recursion_upstream_queries",
			"Queries sent to authoritative servers per client query resolved by recursion (the work budget is recursion.max_queries).",
			[]float64{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128}),
		depth: f.Histogram("bulwark_recursion_depth",
			"Deepest nesting of name-server address lookups per client query (0: every delegation came with glue).",
			[]float64{0, 1, 2, 3, 4, 6, 8}),
		referrals: f.Histogram("bulwark_recursion_referrals", "Referrals followed per client query, sub-lookups included.",
			[]float64{0, 1, 2, 3, 4, 6, 8, 12, 16, 32}),
		timeouts:  f.Counter("bulwark_recursion_server_timeouts_total", "Queries to authoritative servers that got no reply within their timeout."),
		lame:      f.Counter("bulwark_recursion_lame_servers_total", "Servers found lame for a zone (REFUSED, upward referral...) and skipped for recursion.lame_ttl."),
		exchanges: f.CounterVec("bulwark_recursion_exchanges_total", "Queries sent to authoritative servers (UDP and TCP each count), by result.", "result"),
		fallbacks: f.CounterVec("bulwark_recursion_fallbacks_total", "Retries in a more compatible way: over TCP, without EDNS, without 0x20, with the full name.", "kind"),
		failures:  f.CounterVec("bulwark_recursion_failures_total", "Client queries recursion could not answer, by reason.", "reason"),
	}
	// Export every series at zero, so dashboards and alerts see them early.
	for _, r := range []string{resultReply, resultTimeout, resultMismatch, resultError} {
		m.exchanges.WithLabelValues(r)
	}
	for _, k := range []string{fallbackTCP, fallbackEDNS, fallbackCase, fallbackQmin} {
		m.fallbacks.WithLabelValues(k)
	}
	for _, f := range []string{failBudget, failTime, failDepth, failChain, failLoop, failServers, failCanceled, failOther} {
		m.failures.WithLabelValues(f)
	}
	return m
}

func (m *Metrics) exchanged(result string) {
	if m == nil {
		return
	}
	m.exchanges.WithLabelValues(result).Inc()
	if result == resultTimeout {
		m.timeouts.Inc()
	}
}

func (m *Metrics) fellBack(kind string) {
	if m != nil {
		m.fallbacks.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) lameFound() {
	if m != nil {
		m.lame.Inc()
	}
}

// finished records one client query's spend and, if it failed, why.
func (m *Metrics) finished(q *query, err error) {
	if m == nil {
		return
	}
	m.queries.Observe(float64(q.sent))
	m.depth.Observe(float64(q.depth))
	m.referrals.Observe(float64(q.refs))
	if err != nil {
		m.failures.WithLabelValues(failReason(err)).Inc()
	}
}

func failReason(err error) string {
	switch {
	case errors.Is(err, ErrBudget):
		return failBudget
	case errors.Is(err, ErrTimeBudget), errors.Is(err, context.DeadlineExceeded):
		return failTime
	case errors.Is(err, context.Canceled):
		return failCanceled
	case errors.Is(err, ErrDepth):
		return failDepth
	case errors.Is(err, ErrChain):
		return failChain
	case errors.Is(err, ErrLoop):
		return failLoop
	case errors.Is(err, ErrNoServer):
		return failServers
	}
	return failOther
}
