package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/promx"
	"github.com/bulwark-dns/bulwark/resolver/proxyproto"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/rcvbuf"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// qtypeLabels bounds the qtype label: any other type counts as "OTHER", so a
// scanner sending random types cannot blow up the series count.
var qtypeLabels = [...]uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT, dns.TypeNS,
	dns.TypeSOA, dns.TypePTR, dns.TypeSRV, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeANY,
	dns.TypeDS, dns.TypeDNSKEY, dns.TypeCAA, dns.TypeNAPTR,
}

const numQtypeLabels = len(qtypeLabels) + 1 // + OTHER

func qtypeIndex(t uint16) int {
	for i, q := range qtypeLabels {
		if q == t {
			return i
		}
	}
	return len(qtypeLabels)
}

// Metrics are the request-path counters (docs/ARCHITECTURE.md, "Metrics"). The counters of the
// hot path are resolved to concrete series once, so counting a query is an
// atomic add, not a label lookup.
type Metrics struct {
	queries    [query.NumProtos][numQtypeLabels]prometheus.Counter
	responses  [dns.RcodeBadCookie + 1]prometheus.Counter // by rcode
	otherRcode prometheus.Counter
	dropped    prometheus.Counter
	duration   prometheus.Histogram
	blocked    *prometheus.CounterVec
	// blockedCache holds the resolved bulwark_blocked_total series of the
	// current table.
	blockedCache atomic.Pointer[blockedCounters]
	malformed    prometheus.Counter
	overload     prometheus.Counter
	aclDenied    prometheus.Counter
	limited      prometheus.Counter
	tcpLimit     prometheus.Counter
	proxy        *proxyproto.Metrics
	udp          *rcvbuf.Stats          // receive buffers and kernel drops of the UDP sockets
	whatIf       *prometheus.CounterVec // log-only lists (whatif.go)
	// Per-tenant series (tenant.go); tenantNames are the tenants that
	// have them, so that a reload removing a tenant removes its series.
	tenantQueries, tenantBlocked *prometheus.CounterVec
	tenantMu                     sync.Mutex
	tenantNames                  map[string]bool
}

// NewMetrics registers the request-path metrics on reg. It is called once per
// process: a reload keeps the same Metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	queries := f.CounterVec("bulwark_queries_total", "Client queries received, by transport and query type.", "proto", "qtype")
	responses := f.CounterVec("bulwark_responses_total",
		"Responses sent to clients by rcode; rcode=\"dropped\" counts queries answered with silence.", "rcode")
	m := &Metrics{
		duration: f.Histogram("bulwark_request_duration_seconds", "Time from receiving a query to sending its answer.",
			[]float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}),
		blocked:   f.CounterVec("bulwark_blocked_total", "Queries answered by a block rule, by list, action and the list's category.", "list", "action", "category"),
		malformed: f.Counter("bulwark_malformed_queries_total", "Client packets that could not be parsed as DNS queries."),
		overload:  f.Counter("bulwark_overload_dropped_total", "Queries dropped because max_inflight queries were already being answered."),
		aclDenied: f.Counter("bulwark_acl_denied_total", "Queries from clients outside the ACL."),
		limited:   f.Counter("bulwark_ratelimited_total", "UDP queries over their client network's rate limit (truncated or dropped)."),
		tcpLimit:  f.Counter("bulwark_tcp_connections_rejected_total", "TCP, DoT and DoH connections closed at once because max_tcp_conns were open."),
	}
	for p := query.Proto(0); p < query.NumProtos; p++ {
		for i := 0; i < numQtypeLabels; i++ {
			name := "OTHER"
			if i < len(qtypeLabels) {
				name = dns.TypeToString[qtypeLabels[i]]
			}
			m.queries[p][i] = queries.WithLabelValues(p.String(), name)
		}
	}
	m.whatIf = newWhatIfCounter(f)
	m.tenantQueries, m.tenantBlocked = newTenantVecs(f)
	m.otherRcode = responses.WithLabelValues("OTHER")
	m.dropped = responses.WithLabelValues("dropped")
	for rc := range m.responses {
		if name, ok := dns.RcodeToString[rc]; ok {
			m.responses[rc] = responses.WithLabelValues(name)
		} else {
			m.responses[rc] = m.otherRcode
		}
	}
	m.proxy = proxyproto.NewMetrics(reg)
	m.udp = rcvbuf.NewStats(reg)
	return m
}

func (m *Metrics) countQuery(p query.Proto, qtype uint16) {
	if m != nil {
		m.queries[p][qtypeIndex(qtype)].Inc()
	}
}

func (m *Metrics) countResponse(rcode int, seconds float64) {
	if m == nil {
		return
	}
	if rcode >= 0 && rcode < len(m.responses) {
		m.responses[rcode].Inc()
	} else {
		m.otherRcode.Inc()
	}
	m.duration.Observe(seconds)
}

func (m *Metrics) countDropped(seconds float64) {
	if m != nil {
		m.dropped.Inc()
		m.duration.Observe(seconds)
	}
}

func (m *Metrics) countBlocked(t *blocklist.Table, p blocklist.Payload) {
	if m == nil {
		return
	}
	c := m.blockedCache.Load()
	if c == nil || c.table != t {
		// A new table (a refresh): start a new set of resolved series.
		nc := &blockedCounters{table: t, slots: make([][numActions]atomic.Pointer[counterBox], len(t.Lists))}
		if m.blockedCache.CompareAndSwap(c, nc) {
			c = nc
		} else {
			c = m.blockedCache.Load()
		}
	}
	if int(p.List) >= len(c.slots) || int(p.Action) >= numActions {
		m.blocked.WithLabelValues("", p.Action.String(), "").Inc()
		return
	}
	slot := &c.slots[p.List][p.Action]
	box := slot.Load()
	if box == nil {
		var category string
		if int(p.Category) < len(t.Categories) {
			category = t.Categories[p.Category]
		}
		box = &counterBox{m.blocked.WithLabelValues(t.Lists[p.List].Name, p.Action.String(), category)}
		slot.Store(box)
	}
	box.c.Inc()
}

// numActions bounds blocklist.Action values.
const numActions = blocklist.NumActions

// blockedCounters resolves bulwark_blocked_total's series once per table,
// list and action, so that counting a block is an atomic add rather than
// a label lookup.
type blockedCounters struct {
	table *blocklist.Table
	slots [][numActions]atomic.Pointer[counterBox]
}

type counterBox struct{ c prometheus.Counter }

func (m *Metrics) countMalformed() {
	if m != nil {
		m.malformed.Inc()
	}
}

// CountMalformed counts, for the listeners, a UDP datagram larger than they
// read (cut by the kernel): a query that cannot be read, as one that does
// not parse.
func (m *Metrics) CountMalformed() { m.countMalformed() }

// CountOverload counts a query the listeners dropped at max_inflight.
func (m *Metrics) CountOverload() {
	if m != nil {
		m.overload.Inc()
	}
}

func (m *Metrics) countACLDenied() {
	if m != nil {
		m.aclDenied.Inc()
	}
}

func (m *Metrics) countRateLimited() {
	if m != nil {
		m.limited.Inc()
	}
}

// CountTCPRejected counts a stream connection closed at max_tcp_conns.
func (m *Metrics) CountTCPRejected() {
	if m != nil {
		m.tcpLimit.Inc()
	}
}

// ProxyMetrics are the listeners' PROXY protocol counters (nil without
// Metrics).
func (m *Metrics) ProxyMetrics() *proxyproto.Metrics {
	if m == nil {
		return nil
	}
	return m.proxy
}

// UDPStats are the listeners' UDP receive buffers and kernel drops (nil
// without Metrics).
func (m *Metrics) UDPStats() *rcvbuf.Stats {
	if m == nil {
		return nil
	}
	return m.udp
}
