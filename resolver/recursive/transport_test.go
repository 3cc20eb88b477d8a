package recursive

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// TestTruncationTCP: a truncated UDP reply is asked again over TCP, both
// when a server truncates everything and when an answer is too big.
func TestTruncationTCP(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	var big []string
	for i := range 40 {
		big = append(big, fmt.Sprintf("big.example.test. 300 IN TXT \"record %02d, padded to make the whole set larger than 1232 bytes\"", i))
	}
	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).AddZone("example.test.", big...)
	}
	r, reg := newResolver(t, h, nil)
	patient(r)

	m := mustResolve(t, r, "big.example.test.", dns.TypeTXT)
	if len(m.Answer) != 40 || m.Truncated {
		t.Errorf("%d TXT records (TC=%v), want all 40", len(m.Answer), m.Truncated)
	}
	tcp := 0
	for _, s := range h.Queries() {
		if s.Proto == "tcp" && s.Name == "big.example.test." {
			tcp++
		}
	}
	if tcp != 1 {
		t.Errorf("%d TCP queries for the big answer, want 1:\n%q", tcp, seen(h))
	}

	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).SetTruncateUDP(true)
	}
	h.Reset()
	m = mustResolve(t, r, "alias.example.test.", dns.TypeA)
	if got := rrs(m.Answer); len(got) != 2 {
		t.Errorf("answer %q", got)
	}
	if q := h.Queries(); len(q) != 2 || q[0].Proto != "udp" || q[1].Proto != "tcp" || q[0].Server != q[1].Server {
		t.Errorf("want UDP then TCP to the same server, got %q", seen(h))
	}
	if got := counter(t, reg, "bulwark_recursion_fallbacks_total", fallbackTCP); got != 2 {
		t.Errorf("tcp fallbacks = %v, want 2", got)
	}
}

// TestNoEDNSFallback: a server answering FORMERR to EDNS is asked again
// without, and remembered as such.
func TestNoEDNSFallback(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).SetRejectEDNS(true)
	}
	r, reg := newResolver(t, h, nil)
	patient(r)
	mustResolve(t, r, "www.example.test.", dns.TypeA)
	h.Reset()
	m := mustResolve(t, r, "www.example.test.", dns.TypeAAAA)
	if len(m.Answer) != 1 {
		t.Errorf("answer %q", rrs(m.Answer))
	}
	// The server already asked is asked without EDNS at once; the other
	// (if picked) learns it first.
	q := h.Queries()
	if len(q) == 0 || q[len(q)-1].OPT != nil {
		t.Errorf("queries %q: the last one should have no OPT", seen(h))
	}
	if got := counter(t, reg, "bulwark_recursion_fallbacks_total", fallbackEDNS); got < 1 || got > 2 {
		t.Errorf("no_edns fallbacks = %v, want 1 or 2 (one per server)", got)
	}
}

// TestIPv6Transport resolves through a server on ::1 with IPv4 off: the
// IPv4 glue (to a server that is not there) is never used.
func TestIPv6Transport(t *testing.T) {
	t.Parallel()
	if pc, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		pc.Close()
	}
	h := dnstest.StartHierarchy(t, "::1")
	srv := h.Server("::1")
	srv.AddZone(".",
		". 86400 IN NS ns.v6.test.",
		"test. 86400 IN NS ns.v6.test.",
		"ns.v6.test. 86400 IN AAAA ::1",
		"ns.v6.test. 86400 IN A 127.0.0.99",
	)
	srv.AddZone("v6.test.", "www.v6.test. 300 IN AAAA 2001:db8::6")
	r, _ := newResolver(t, h, func(c *Config) {
		c.RootHints = []string{"ns.v6.test ::1"}
		c.IPv4 = false
	})
	m := mustResolve(t, r, "www.v6.test.", dns.TypeAAAA)
	if got := rrs(m.Answer); !slices.Equal(got, []string{"www.v6.test. 300 IN AAAA 2001:db8::6"}) {
		t.Errorf("answer %q; queries %q", got, seen(h))
	}
}

// TestServerSelectionByRTT: of two servers, the fast one gets the queries
// once both are measured.
func TestServerSelectionByRTT(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	h.Server(ipZone2).SetDelay(200 * time.Millisecond)
	r, _ := newResolver(t, h, nil)
	patient(r)
	const n = 12
	for i := range n {
		mustResolve(t, r, fmt.Sprintf("n%d.example.test.", i), dns.TypeA)
	}
	slow := 0
	for _, s := range h.Queries() {
		if s.Server == ipZone2 {
			slow++
		}
	}
	// The slow server is tried once (unknown servers are explored), then
	// ranked behind the fast one; a few more for scheduling noise.
	if slow > 3 {
		t.Errorf("slow server got %d of %d queries:\n%q", slow, n, seen(h))
	}
	now := r.clock.Now()
	if fast, slowRTT := r.infra.info(mustAddr(ipZone1), now).srtt, r.infra.info(mustAddr(ipZone2), now).srtt; slow > 0 && fast >= slowRTT {
		t.Errorf("smoothed RTT fast %v, slow %v", fast, slowRTT)
	}
}

// TestPrimingFallback: a root that does not answer the priming query
// still serves as a hint.
func TestPrimingFallback(t *testing.T) {
	t.Parallel()
	h := startWorld(t)
	r, _ := newResolver(t, h, func(c *Config) {
		c.RootHints = []string{"127.0.0.9", "a.root-servers.test " + ipRoot} // nothing listens on .9
	})
	h.Server(ipRoot).AddZone("test.") // root NS answered from the wrong zone: no NS set
	mustResolve(t, r, "www.example.test.", dns.TypeA)
}

// TestStaleDelegation: when every server of a cached zone cut fails, the
// cut is asked of the parent again (it may have moved).
func TestStaleDelegation(t *testing.T) {
	t.Parallel()
	const ipNew = "127.0.0.20"
	h := startWorld(t, ipNew)
	r, _ := newResolver(t, h, nil)
	mustResolve(t, r, "www.example.test.", dns.TypeA)

	// example.test. moves to a new server; the old ones stop serving it.
	tld := h.Server(ipTest)
	tld.Remove("test.", "example.test.", dns.TypeNS)
	tld.AddZone("test.",
		"example.test. 86400 IN NS ns.new-host.test.",
		"ns.new-host.test. 86400 IN A "+ipNew,
	)
	h.Server(ipNew).AddZone("example.test.", "www.example.test. 300 IN A 192.0.2.99")
	for _, ip := range []string{ipZone1, ipZone2} {
		h.Server(ip).SetMode(dnstest.Refused)
	}
	h.Reset()

	m := mustResolve(t, r, "www.example.test.", dns.TypeA)
	if got := rrs(m.Answer); !slices.Equal(got, []string{"www.example.test. 300 IN A 192.0.2.99"}) {
		t.Errorf("answer %q; queries %q", got, seen(h))
	}
}
