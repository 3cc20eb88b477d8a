package feeds

import "github.com/prometheus/client_golang/prometheus"

// xfrMetrics are the series of zone transfer feeds ("axfr://" sources)
// and of the NOTIFY messages that announce their changes.
type xfrMetrics struct {
	serial    *prometheus.GaugeVec
	expired   *prometheus.GaugeVec
	transfers *prometheus.CounterVec
	notifies  *prometheus.CounterVec
}

// Results of a NOTIFY, the result label of bulwark_feed_notify_total.
const (
	notifyAccepted   = "accepted"    // from a primary, signed if need be: a check was started
	notifyNotPrimary = "not_primary" // from an address that is not one of the zone's primaries
	notifyBadTSIG    = "bad_tsig"    // unsigned, signed with another key, or a signature that does not verify
	notifyUnknown    = "unknown"     // for a zone no list transfers (feed label "")
)

func newXfrMetrics(reg prometheus.Registerer) xfrMetrics {
	x := xfrMetrics{
		serial: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_feed_zone_serial", Help: "SOA serial of the zone an axfr:// list holds.",
		}, []string{"feed"}),
		expired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_feed_zone_expired",
			Help: "1 once no primary confirmed the list's zone within its SOA expire timer (the last zone is still enforced unless on_expire is drop). Alert on it.",
		}, []string{"feed"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_feed_zone_transfers_total", Help: "Zone transfers that changed the list's zone, by type (ixfr, axfr).",
		}, []string{"feed", "type"}),
		notifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_feed_notify_total", Help: "DNS NOTIFY messages received, by result (accepted, not_primary, bad_tsig, unknown).",
		}, []string{"feed", "result"}),
	}
	reg.MustRegister(x.serial, x.expired, x.transfers, x.notifies)
	return x
}

func (x xfrMetrics) forget(l prometheus.Labels) {
	if x.serial == nil {
		return
	}
	for _, v := range []*prometheus.MetricVec{x.serial.MetricVec, x.expired.MetricVec, x.transfers.MetricVec, x.notifies.MetricVec} {
		v.DeletePartialMatch(l)
	}
}

func (m *Metrics) zoneSerial(feed string, serial uint32) {
	if m == nil {
		return
	}
	m.xfr.serial.WithLabelValues(feed).Set(float64(serial))
}

func (m *Metrics) zoneExpired(feed string, expired bool) {
	if m == nil {
		return
	}
	v := 0.0
	if expired {
		v = 1
	}
	m.xfr.expired.WithLabelValues(feed).Set(v)
}

func (m *Metrics) zoneTransfer(feed, kind string) {
	if m == nil {
		return
	}
	m.xfr.transfers.WithLabelValues(feed, kind).Inc()
}

func (m *Metrics) notify(feed, result string) {
	if m == nil {
		return
	}
	m.xfr.notifies.WithLabelValues(feed, result).Inc()
}
