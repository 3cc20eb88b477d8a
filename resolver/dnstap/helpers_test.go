package dnstap

import (
	"net/netip"
	"testing"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promtest"
)

// startTap starts a Tap on socket with fast reconnects.
func startTap(t *testing.T, cfg Config) (*Tap, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.SetDefaults()
	if errs := cfg.Validate("dnstap"); len(errs) > 0 {
		t.Fatal(errs)
	}
	tap, err := newTap(cfg, "test", NewMetrics(reg), nil)
	if err != nil {
		t.Fatal(err)
	}
	tap.minRetry, tap.maxRetry = 5*time.Millisecond, 50*time.Millisecond
	go tap.run()
	t.Cleanup(tap.Close)
	return tap, reg
}

// counter reads the dnstap counter or gauge name (none has labels).
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	return promtest.Value(t, reg, name)
}

// event builds a QueryEvent with real wire messages for name.
func event(t testing.TB, name string, client string, p contract.Proto, answered bool) contract.Event {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	qb, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	ev := contract.Event{
		Received: time.Now(), Duration: 1500 * time.Microsecond,
		Client: netip.MustParseAddrPort(client), Proto: p,
		Query: qb, QName: name, QType: dns.TypeA, Rcode: -1,
	}
	if answered {
		r := new(dns.Msg)
		r.SetRcode(q, dns.RcodeNameError)
		rb, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		ev.Response, ev.Rcode = rb, dns.RcodeNameError
	}
	return ev
}
