package upstream

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/resolver"
)

// forwarder builds a Forwarder to srvs with metrics in a fresh registry.
func forwarder(t testing.TB, timeout, try time.Duration, srvs ...*dnstest.Server) (*Forwarder, *prometheus.Registry) {
	t.Helper()
	cfg := Config{Timeout: timeout, TryTimeout: try}
	for _, s := range srvs {
		cfg.Servers = append(cfg.Servers, s.Addr)
	}
	reg := prometheus.NewRegistry()
	f, err := New(cfg, NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, reg
}

// request is a client query as the listener would pass it on, with the
// client's own OPT carrying a cookie that must never reach an upstream.
func request(name string, qtype uint16, rd, cd, do bool) *resolver.Request {
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.RecursionDesired, m.CheckingDisabled = rd, cd
	m.SetEdns0(4096, do)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0011223344556677"})
	return resolver.NewRequest(m, netip.MustParseAddrPort("192.0.2.10:5353"), resolver.ProtoUDP)
}

// requests reads bulwark_upstream_requests_total{upstream,result}.
func requests(t *testing.T, reg *prometheus.Registry, upstream, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bulwark_upstream_requests_total" {
			continue
		}
		for _, m := range mf.Metric {
			var u, r string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "upstream":
					u = lp.GetValue()
				case "result":
					r = lp.GetValue()
				}
			}
			if u == upstream && r == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// observed reads the sample count of the duration histogram for upstream.
func observed(t *testing.T, reg *prometheus.Registry, upstream string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bulwark_upstream_request_duration_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == upstream {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

// wantMetrics checks each upstream's counters: every result not listed
// must be zero.
func wantMetrics(t *testing.T, reg *prometheus.Registry, upstream string, want map[string]float64) {
	t.Helper()
	var total float64
	for r := range numResults {
		got := requests(t, reg, upstream, r.String())
		if got != want[r.String()] {
			t.Errorf("requests{upstream=%q,result=%q} = %v, want %v", upstream, r, got, want[r.String()])
		}
		total += got
	}
	if n := observed(t, reg, upstream); float64(n) != total {
		t.Errorf("duration samples for %s = %d, want %v", upstream, n, total)
	}
}

func hasOPT(m *dns.Msg) bool {
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			return true
		}
	}
	return false
}
