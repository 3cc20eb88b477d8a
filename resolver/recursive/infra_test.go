package recursive

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestInfraRTT(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := newInfra(10, 15*time.Minute, 15*time.Minute, defaultRTO)
	a := netip.MustParseAddr("192.0.2.1")

	if got := in.timeout(a, now); got != defaultRTO.initial {
		t.Errorf("unknown server timeout %v, want %v", got, defaultRTO.initial)
	}
	if got := in.score(a, now); got != 0 {
		t.Errorf("unknown server score %v, want 0 (explored first)", got)
	}
	in.observeRTT(a, 40*time.Millisecond, now)
	if si := in.info(a, now); si.srtt != 40*time.Millisecond || si.rto != 120*time.Millisecond {
		t.Errorf("after one 40ms sample: srtt %v rto %v; want 40ms and 40+4*20ms", si.srtt, si.rto)
	}
	fast := netip.MustParseAddr("192.0.2.9")
	in.observeRTT(fast, time.Millisecond, now)
	if got := in.timeout(fast, now); got != defaultRTO.min {
		t.Errorf("1ms server timeout %v, want the floor %v", got, defaultRTO.min)
	}
	for range 20 {
		in.observeRTT(a, 200*time.Millisecond, now)
	}
	si := in.info(a, now)
	if si.srtt < 180*time.Millisecond || si.srtt > 200*time.Millisecond || si.rto < si.srtt || si.rto > defaultRTO.max {
		t.Errorf("after 200ms samples: srtt %v rto %v", si.srtt, si.rto)
	}

	// Timeouts back off up to the maximum, and rank the server by RTO.
	prev := si.rto
	for i := range 6 {
		in.observeTimeout(a, now)
		got := in.timeout(a, now)
		if got < prev || got > defaultRTO.max || i == 0 && got != min(2*prev, defaultRTO.max) {
			t.Errorf("timeout %d: RTO %v after %v", i, got, prev)
		}
		prev = got
	}
	if prev != defaultRTO.max || in.score(a, now) != defaultRTO.max {
		t.Errorf("backed off to %v (score %v), want the maximum %v", prev, in.score(a, now), defaultRTO.max)
	}
	// A reply ends the backoff.
	in.observeRTT(a, 10*time.Millisecond, now)
	if si := in.info(a, now); si.timeouts != 0 || si.rto == defaultRTO.max {
		t.Errorf("after a reply: %+v", si)
	}
	// Everything is forgotten after the infra TTL.
	in.setNoEDNS(a, now)
	if !in.info(a, now).noEDNS {
		t.Error("noEDNS not remembered")
	}
	later := now.Add(15 * time.Minute)
	if si := in.info(a, later); si.noEDNS || si.measured || si.rto != defaultRTO.initial {
		t.Errorf("after infra_ttl: %+v", si)
	}
}

func TestInfraLame(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := newInfra(2, time.Hour, 10*time.Minute, defaultRTO)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	in.markLame("example.test.", a, now)
	if !in.isLame("example.test.", a, now) || in.isLame("other.test.", a, now) || in.isLame("example.test.", b, now) {
		t.Error("lameness is per zone and server")
	}
	if in.isLame("example.test.", a, now.Add(10*time.Minute)) {
		t.Error("still lame after lame_ttl")
	}
	// Bounded: the oldest mark goes first.
	in.markLame("b.test.", a, now)
	in.markLame("c.test.", a, now)
	if in.isLame("example.test.", a, now) || in.lame.len() != 2 {
		t.Errorf("lame cache holds %d marks, want its size 2", in.lame.len())
	}
}

func TestCachesTrustAndExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCaches(4)
	glueAddr := []netip.Addr{netip.MustParseAddr("192.0.2.66")}
	auth := []netip.Addr{netip.MustParseAddr("192.0.2.1")}

	c.putAddrs("ns.example.test.", false, auth, 300, trustAnswer, now)
	c.putAddrs("ns.example.test.", false, glueAddr, 3600, trustGlue, now)
	if got := c.hostAddrs("ns.example.test.", now).v4.addrs; !slices.Equal(got, auth) {
		t.Errorf("glue replaced an authoritative answer: %v", got)
	}
	// Once the answer expires, glue may take its place.
	c.putAddrs("ns.example.test.", false, glueAddr, 3600, trustGlue, now.Add(301*time.Second))
	if got := c.hostAddrs("ns.example.test.", now.Add(301*time.Second)).v4.addrs; !slices.Equal(got, glueAddr) {
		t.Errorf("after expiry: %v", got)
	}
	// An answer replaces glue; families are separate.
	c.putAddrs("ns.example.test.", true, []netip.Addr{netip.MustParseAddr("2001:db8::1")}, 60, trustGlue, now)
	c.putAddrs("ns.example.test.", false, auth, 300, trustAnswer, now.Add(302*time.Second))
	h := c.hostAddrs("ns.example.test.", now.Add(302*time.Second))
	if !slices.Equal(h.v4.addrs, auth) || len(h.v6.addrs) != 0 {
		t.Errorf("v4 %v v6 %v; want the answer, and v6 expired", h.v4.addrs, h.v6.addrs)
	}
	// Zero TTLs are not kept.
	c.putAddrs("zero.test.", false, auth, 0, trustAnswer, now)
	if h := c.hostAddrs("zero.test.", now); !h.v4.expires.IsZero() {
		t.Error("zero-TTL addresses kept")
	}

	c.putDelegation("example.test.", []string{"ns1.example.test."}, 86400*30, now)
	if d, ok := c.delegation("example.test.", now.Add(23*time.Hour)); !ok || !slices.Equal(d.ns, []string{"ns1.example.test."}) {
		t.Errorf("delegation %v %v", d, ok)
	}
	if _, ok := c.delegation("example.test.", now.Add(maxCacheTTL)); ok {
		t.Error("delegation kept past the 24h cap")
	}
	c.putDelegation("zero.test.", []string{"ns."}, 0, now)
	if _, ok := c.delegation("zero.test.", now); ok {
		t.Error("zero-TTL delegation kept")
	}
	for _, z := range []string{"a.", "b.", "c.", "d.", "e."} {
		c.putDelegation(z, []string{"ns."}, 60, now)
	}
	if c.deleg.len() != 4 {
		t.Errorf("delegation cache holds %d, want its size 4", c.deleg.len())
	}

	c.putInside("example.test.", "b.c.example.test.", 600, now)
	if got := c.deepestInside("example.test.", "a.b.c.example.test.", now); got != "b.c.example.test." {
		t.Errorf("deepestInside %q", got)
	}
	if got := c.deepestInside("test.", "a.b.c.example.test.", now); got != "test." {
		t.Errorf("deepestInside for another zone %q, want the zone", got)
	}
	if got := c.deepestInside("example.test.", "a.b.c.example.test.", now.Add(maxNoCutTTL)); got != "example.test." {
		t.Errorf("deepestInside after expiry %q", got)
	}
}
