package feeds

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

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

func newXfrMetrics(f promx.Factory) xfrMetrics {
	return xfrMetrics{
		serial: f.GaugeVec("bulwark_feed_zone_serial", "SOA serial of the zone an axfr:// list holds.", "feed"),
		expired: f.GaugeVec("bulwark_feed_zone_expired",
			"1 once no primary confirmed the list's zone within its SOA expire timer (the last zone is still enforced unless on_expire is drop). Alert on it.", "feed"),
		// Counted per transfer taken, by the query sent, not per change of the zone:
		// whether the list changed is bulwark_feed_fetches_total{result="updated"},
		// its version bulwark_feed_zone_serial. axfr rising beside ixfr after the
		// first transfer is IXFR failing and falling back.
		transfers: f.CounterVec("bulwark_feed_zone_transfers_total",
			"Zone transfers taken from a primary (after its SOA showed a newer serial, or the first), by the query sent (ixfr, axfr). "+
				"An IXFR counts as ixfr whatever it held: changes, the whole zone (a primary without the history) or only the SOA (nothing newer after all); "+
				"an IXFR that failed and was retried as AXFR counts as axfr. Whether the list changed: bulwark_feed_fetches_total.",
			"feed", "type"),
		notifies: f.CounterVec("bulwark_feed_notify_total", "DNS NOTIFY messages received, by result (accepted, not_primary, bad_tsig, unknown).", "feed", "result"),
	}
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

// zoneTransfer counts a transfer taken from a primary, kind the query sent.
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
