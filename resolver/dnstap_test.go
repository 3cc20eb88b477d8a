package resolver_test

import (
	"net"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/dnstaptest"

	dnstappb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnstap"
)

// TestDnstapThroughServer runs queries over UDP and TCP through the real
// server with dnstap on and checks the frames a collector receives.
func TestDnstapThroughServer(t *testing.T) {
	tab := buildTable(t, list{info: blocklist.ListInfo{Name: "evil", Action: blocklist.ActionNXDomain}, names: []string{"evil.example"}})
	e := startEnv(t, tab, envOpts{})
	col := dnstaptest.New(t, "unix").Start()
	reg := prometheus.NewRegistry()
	tap, err := dnstap.New(dnstap.Config{Socket: col.Socket(), Identity: "ns1.test"}, "v1", dnstap.NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetObserver(tap)

	e.query(t, "udp", "www.example.org", dns.TypeA, true)
	e.query(t, "tcp", "evil.example", dns.TypeA, false)

	for _, want := range []struct {
		proto dnstappb.SocketProtocol
		qname string
		rcode int
	}{
		{dnstappb.SocketProtocol_UDP, "www.example.org.", dns.RcodeSuccess},
		{dnstappb.SocketProtocol_TCP, "evil.example.", dns.RcodeNameError},
	} {
		q, r := col.Next(t), col.Next(t)
		if string(q.Identity) != "ns1.test" || string(q.Version) != "bulwark v1" {
			t.Errorf("identity %q version %q", q.Identity, q.Version)
		}
		qm, rm := q.GetMessage(), r.GetMessage()
		if qm.GetType() != dnstappb.Message_CLIENT_QUERY || rm.GetType() != dnstappb.Message_CLIENT_RESPONSE {
			t.Fatalf("frame types %v, %v", qm.GetType(), rm.GetType())
		}
		for _, m := range []*dnstappb.Message{qm, rm} {
			if m.GetSocketProtocol() != want.proto || m.GetSocketFamily() != dnstappb.SocketFamily_INET {
				t.Errorf("%s %v: protocol %v family %v", want.qname, m.GetType(), m.GetSocketProtocol(), m.GetSocketFamily())
			}
			if !net.IP(m.GetQueryAddress()).Equal(net.IPv4(127, 0, 0, 1)) || m.GetQueryPort() == 0 {
				t.Errorf("%s %v: query address %v port %d", want.qname, m.GetType(), net.IP(m.GetQueryAddress()), m.GetQueryPort())
			}
		}
		var query, resp dns.Msg
		if err := query.Unpack(qm.GetQueryMessage()); err != nil || query.Question[0].Name != want.qname {
			t.Errorf("query message %v (%v), want %s", query.Question, err, want.qname)
		}
		if err := resp.Unpack(rm.GetResponseMessage()); err != nil || resp.Rcode != want.rcode || resp.Id != query.Id {
			t.Errorf("%s: response rcode %d id %d (%v), want rcode %d id %d", want.qname, resp.Rcode, resp.Id, err, want.rcode, query.Id)
		}
		qt := time.Unix(int64(qm.GetQueryTimeSec()), int64(qm.GetQueryTimeNsec()))
		rt := time.Unix(int64(rm.GetResponseTimeSec()), int64(rm.GetResponseTimeNsec()))
		if d := time.Since(qt); d < 0 || d > time.Minute || rt.Before(qt) {
			t.Errorf("%s: query time %v, response time %v", want.qname, qt, rt)
		}
	}
	tap.Close()
	if sent := metricValue(t, reg, "bulwark_dnstap_sent_total"); sent != 4 {
		t.Errorf("sent = %v, want 4", sent)
	}
	if dropped := metricValue(t, reg, "bulwark_dnstap_dropped_total"); dropped != 0 {
		t.Errorf("dropped = %v, want 0", dropped)
	}
	// A query after Close is dropped and counted, never blocks.
	e.query(t, "udp", "www.example.org", dns.TypeA, false)
	if dropped := metricValue(t, reg, "bulwark_dnstap_dropped_total"); dropped != 2 {
		t.Errorf("dropped after Close = %v, want 2", dropped)
	}
	select {
	case f := <-col.Frames:
		t.Errorf("frame after Close: %d bytes", len(f))
	default:
	}
}
