package upstream

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

func TestConditionalForwarding(t *testing.T) {
	def := dnstest.Start(t, dnstest.WithWildcard())
	corp := dnstest.Start(t, dnstest.WithWildcard())
	lab := dnstest.Start(t, dnstest.WithWildcard())
	idn := dnstest.Start(t, dnstest.WithWildcard())
	f, _ := newForwarder(t, Config{
		Servers: []string{def.Addr},
		Conditional: []ConditionalConfig{
			{Domains: []string{"corp.internal", "10.in-addr.arpa."}, Servers: []string{corp.Addr}},
			{Domains: []string{"Lab.Corp.Internal"}, Servers: []string{lab.Addr}},
			{Domains: []string{"bücher.example"}, Servers: []string{idn.Addr}},
		},
		Timeout: long, TryTimeout: long,
	})
	tests := []struct {
		name string
		want *dnstest.Server
	}{
		{"corp.internal.", corp},
		{"www.corp.internal.", corp},
		{"WWW.CORP.INTERNAL.", corp},
		{"lab.corp.internal.", lab}, // the most specific domain wins
		{"a.b.lab.corp.internal.", lab},
		{"xlab.corp.internal.", corp},
		{"notcorp.internal.", def}, // label boundaries, not string suffixes
		{"internal.", def},
		{"5.0.0.10.in-addr.arpa.", corp},
		{"www.xn--bcher-kva.example.", idn},
		{"example.com.", def},
		{".", def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range []*dnstest.Server{def, corp, lab, idn} {
				s.Reset()
			}
			if _, err := f.Resolve(context.Background(), request(tt.name, dns.TypeA, true, false, false)); err != nil {
				t.Fatal(err)
			}
			if tt.want.Count() != 1 || def.Count()+corp.Count()+lab.Count()+idn.Count() != 1 {
				t.Errorf("queries default %d corp %d lab %d idn %d; want only the expected server",
					def.Count(), corp.Count(), lab.Count(), idn.Count())
			}
			if got, want := f.Covers(tt.name), tt.want != def; got != want {
				t.Errorf("Covers = %v, want %v", got, want)
			}
		})
	}
}

// TestConditionalRecursiveMode: with no main servers only conditional
// domains are forwarded; anything else is a clear error.
func TestConditionalRecursiveMode(t *testing.T) {
	corp := dnstest.Start(t, dnstest.WithWildcard())
	f, _ := newForwarder(t, Config{Mode: ModeRecursive, Conditional: []ConditionalConfig{{Domains: []string{"corp.internal"}, Servers: []string{corp.Addr}}}})
	resolveOK(t, f, "a.corp.internal.")
	if _, err := f.Resolve(context.Background(), request("example.com.", dns.TypeA, true, false, false)); err == nil {
		t.Error("forwarded a name outside the conditional domains in recursive mode")
	}
}

// TestSharedServers: a server listed twice (in two spellings) is one
// server: one set of series, one health state.
func TestSharedServers(t *testing.T) {
	s := dnstest.Start(t, dnstest.WithWildcard())
	f, reg := newForwarder(t, Config{
		Servers:     []string{s.Addr},
		Conditional: []ConditionalConfig{{Domains: []string{"corp.internal"}, Servers: []string{"udp://" + s.Addr}}},
		Timeout:     long, TryTimeout: long,
	})
	resolveOK(t, f, "a.corp.internal.")
	resolveOK(t, f, "example.com.")
	if len(f.servers) != 1 || f.def.servers[0] != f.zones["corp.internal."].servers[0] {
		t.Errorf("%d servers, want 1 shared", len(f.servers))
	}
	wantMetrics(t, reg, s.Addr, map[string]float64{"success": 2})
}
