package proxyproto

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Result is what became of one header check.
type Result uint8

const (
	// Accepted: a trusted balancer sent a valid header (PROXY or LOCAL).
	Accepted Result = iota
	// Dropped: a trusted balancer sent no header or a malformed one; the
	// packet or connection is discarded, since its client is unknown.
	Dropped
	// Refused: someone outside the trusted networks sent a header; the
	// packet or connection is discarded rather than parsed as DNS.
	Refused
	numResults
)

var resultNames = [numResults]string{"accepted", "dropped", "refused"}

func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "unknown"
}

// Metrics counts header checks by transport ("udp" or "tcp", which covers
// TCP, DoT and DoH) and result. A nil *Metrics counts nothing.
type Metrics struct {
	udp, tcp [numResults]prometheus.Counter
}

// NewMetrics registers bulwark_proxy_protocol_headers_total on reg (nil:
// not registered, still counted).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	v := promx.With(reg).CounterVec("bulwark_proxy_protocol_headers_total",
		"PROXY protocol header checks by transport and result: accepted (trusted balancer, valid header), dropped (trusted balancer, missing or malformed header), refused (header from an untrusted source).",
		"transport", "result")
	m := &Metrics{}
	for r := Result(0); r < numResults; r++ {
		m.udp[r] = v.WithLabelValues("udp", r.String())
		m.tcp[r] = v.WithLabelValues("tcp", r.String())
	}
	return m
}

func (m *Metrics) count(datagram bool, r Result) {
	if m == nil {
		return
	}
	if datagram {
		m.udp[r].Inc()
	} else {
		m.tcp[r].Inc()
	}
}
