package recursive

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/syncbuf"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// policyOver puts the policy step, blocking the given names (and below),
// in front of r, as cmd/bulwark chains them.
func policyOver(t *testing.T, r contract.Resolver, blocked ...string) (contract.Resolver, *syncbuf.Buffer, func()) {
	t.Helper()
	b := blocklist.NewBuilder()
	for _, n := range blocked {
		if err := b.Add(blocklist.Rule{Name: n, Scope: blocklist.Subtree, Payload: blocklist.Payload{Action: blocklist.ActionNXDomain}}); err != nil {
			t.Fatal(err)
		}
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var tables atomic.Pointer[blocklist.Table]
	tables.Store(&blocklist.Table{Set: set, Lists: []blocklist.ListInfo{{Name: "threats"}}, Categories: []string{"malware"}})
	var cfg pipeline.BlockingConfig
	cfg.SetDefaults()
	out := &syncbuf.Buffer{}      // the block log's writer goroutine writes it
	m := pipeline.NewMetrics(nil) // counted, not exported: the test reads the block log
	log := logs.NewBlockLog(out, nil, nil)
	return pipeline.NewPolicy(cfg, &tables, r, log, m), out, log.Close
}

// TestPolicyBlocksCNAMETargets: a CNAME (or DNAME) met during recursion,
// in another zone than the name asked, blocks the answer when its target
// is listed. The recursion reports the chain even when the listed target
// cannot be resolved, so an unreachable tracker does not turn a block into
// a SERVFAIL.
func TestPolicyBlocksCNAMETargets(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, func(c *Config) { c.Timeout = 2 * time.Second })
	p, out, closeLog := policyOver(t, r, "cdn.example")

	tests := []struct {
		qname string
		cname string // the blocked target named in the log
	}{
		{"away.example.test.", "edge.cdn.example"},  // away.example.test -> www.shop.test -> edge.cdn.example
		{"www.shop.test.", "edge.cdn.example"},      // the chain starts in another zone
		{"x.moved.example.test.", "cdn.example"},    // DNAME moved.example.test -> cdn.example
		{"away2.example.test.", "down.cdn.example"}, // the target's server does not answer
	}
	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).AddZone("example.test.", "away2.example.test. 300 IN CNAME down.cdn.example.")
	}
	h.Server(ipHost).AddZone("cdn.example.", "down.cdn.example. 300 IN A 192.0.2.99")
	for _, tt := range tests {
		if tt.qname == "away2.example.test." {
			h.Server(ipHost).SetMode(dnstest.Timeout)
		}
		m := mustResolve(t, p, tt.qname, dns.TypeA)
		if m.Rcode != dns.RcodeNameError || len(m.Answer) != 0 {
			t.Errorf("%s: rcode %s answer %q; want the NXDOMAIN block", tt.qname, dns.RcodeToString[m.Rcode], rrs(m.Answer))
		}
	}
	h.Server(ipHost).SetMode(dnstest.Answer)
	// A name not leading to a listed one passes.
	if m := mustResolve(t, p, "alias.example.test.", dns.TypeA); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 2 {
		t.Errorf("alias.example.test.: rcode %s answer %q", dns.RcodeToString[m.Rcode], rrs(m.Answer))
	}

	closeLog()
	dec := json.NewDecoder(strings.NewReader(out.String()))
	for _, tt := range tests {
		var ev logs.BlockEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("block log: %v", err)
		}
		if ev.CNAME != tt.cname || ev.List != "threats" {
			t.Errorf("block event %+v, want cname %s from list threats", ev, tt.cname)
		}
	}
}
