package upstream

import (
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/promtest"
	contract "github.com/bulwark-dns/bulwark/resolver/query"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// forwarder builds a Forwarder to srvs with metrics in a fresh registry.
func forwarder(t testing.TB, timeout, try time.Duration, srvs ...*dnstest.Server) (*Forwarder, *prometheus.Registry) {
	t.Helper()
	cfg := Config{Timeout: timeout, TryTimeout: try}
	for _, s := range srvs {
		cfg.Servers = append(cfg.Servers, s.Addr)
	}
	return newForwarder(t, cfg)
}

// newForwarder builds a Forwarder from cfg with metrics in a fresh
// registry, closed when the test ends.
func newForwarder(t testing.TB, cfg Config, opts ...Option) (*Forwarder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	f, err := New(cfg, NewMetrics(reg), nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, reg
}

// pki is a test's CA, trusted through its PEM file (upstream.ca_file).
type pki struct {
	ca   *dnstest.CA
	file string
}

func newPKI(t testing.TB) pki {
	ca := dnstest.NewCA(t)
	return pki{ca: ca, file: ca.File(t)}
}

// encrypted starts a wildcard server that also speaks DoT and DoH with a
// certificate for names.
func (p pki) encrypted(t testing.TB, names ...string) *dnstest.Server {
	cert := p.ca.Issue(t, names...)
	return dnstest.Start(t, dnstest.WithWildcard(), dnstest.WithTLS(cert), dnstest.WithHTTPS(cert))
}

// dotURL is s's DoT server under name, connecting to its address.
func dotURL(name string, s *dnstest.Server) string { return "tls://" + name + "@" + s.TLSAddr }

// dohURL is s's DoH URL under name, with its address appended.
func dohURL(name string, s *dnstest.Server) string {
	u, _ := url.Parse(s.URL)
	return "https://" + name + ":" + u.Port() + dnstest.DoHPath + "@" + u.Hostname()
}

// metric reads the counter or gauge name{labels}; 0 if absent.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, reg, name, labels...)
}

// answerA returns the address of m's only A record, "" if it has not one.
func answerA(m *dns.Msg) string {
	if m == nil || len(m.Answer) != 1 {
		return ""
	}
	if a, ok := m.Answer[0].(*dns.A); ok {
		return a.A.String()
	}
	return ""
}

// request is a client query as the listener would pass it on, with the
// client's own OPT carrying a cookie that must never reach an upstream.
func request(name string, qtype uint16, rd, cd, do bool) *contract.Request {
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.RecursionDesired, m.CheckingDisabled = rd, cd
	m.SetEdns0(4096, do)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0011223344556677"})
	return contract.NewRequest(m, netip.MustParseAddrPort("192.0.2.10:5353"), contract.ProtoUDP)
}

// requests reads bulwark_upstream_requests_total{upstream,result}.
func requests(t *testing.T, reg *prometheus.Registry, upstream, result string) float64 {
	t.Helper()
	return promtest.Value(t, reg, "bulwark_upstream_requests_total", "upstream", upstream, "result", result)
}

// observed reads the sample count of the duration histogram for upstream.
func observed(t *testing.T, reg *prometheus.Registry, upstream string) uint64 {
	t.Helper()
	return uint64(promtest.Value(t, reg, "bulwark_upstream_request_duration_seconds", "upstream", upstream))
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

// paddedOnly reports whether q's only EDNS option is padding to a
// multiple of 128 octets (RFC 8467), as DoT and DoH queries have.
func paddedOnly(q dnstest.Query) bool {
	if q.OPT == nil || len(q.OPT.Option) != 1 || q.Size%128 != 0 {
		return false
	}
	_, ok := q.OPT.Option[0].(*dns.EDNS0_PADDING)
	return ok
}
