package cache

import (
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestTTLDecrement(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		want    uint32 // TTL seen; 0 means a miss (next asked again)
	}{
		{"fresh", 0, 300},
		{"sub-second age rounds down", 999 * time.Millisecond, 300},
		{"one second", time.Second, 299},
		{"last second", 299*time.Second + 500*time.Millisecond, 1},
		{"expired", 300 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &fakeNext{reply: answer(300)}
			c, clk := newTest(t, testConfig(), next, nil)
			resolve(t, c, query("www.example.", dns.TypeA, false, false))
			clk.Advance(tt.advance)
			m := resolve(t, c, query("www.example.", dns.TypeA, false, false))
			if tt.want == 0 {
				if next.n() != 2 {
					t.Fatalf("next called %d times, want 2 (expired entry refetched)", next.n())
				}
				return
			}
			if next.n() != 1 {
				t.Fatalf("next called %d times, want 1", next.n())
			}
			if got := ttls(m); !slices.Equal(got, []uint32{tt.want}) {
				t.Fatalf("TTLs %v, want [%d]", got, tt.want)
			}
		})
	}
}

func TestPerRecordTTLs(t *testing.T) {
	// Each record keeps its own TTL, aged; the entry lives as long as the shortest.
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "www.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 3600}, Target: "cdn.example."}
	next := &fakeNext{reply: fixed(dns.RcodeSuccess, []dns.RR{cname, a("cdn.example.", 60, "192.0.2.7")}, nil)}
	c, clk := newTest(t, testConfig(), next, nil)
	resolve(t, c, query("www.example.", dns.TypeA, false, false))
	clk.Advance(10 * time.Second)
	if got := ttls(resolve(t, c, query("www.example.", dns.TypeA, false, false))); !slices.Equal(got, []uint32{3590, 50}) {
		t.Fatalf("TTLs %v, want [3590 50]", got)
	}
	clk.Advance(50 * time.Second)
	resolve(t, c, query("www.example.", dns.TypeA, false, false))
	if next.n() != 2 {
		t.Fatalf("next called %d times, want 2: entry lives as long as its shortest TTL", next.n())
	}
}

func TestTTLClamps(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		ttl      uint32
		want     uint32
	}{
		{"within", 0, time.Hour, 300, 300},
		{"raised to min", time.Minute, time.Hour, 10, 60},
		{"zero raised to min", time.Minute, time.Hour, 0, 60},
		{"capped at max", 0, time.Hour, 86400, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MinTTL, cfg.MaxTTL = tt.min, tt.max
			next := &fakeNext{reply: answer(tt.ttl)}
			c, clk := newTest(t, cfg, next, nil)
			if got := ttls(resolve(t, c, query("a.example.", dns.TypeA, false, false))); !slices.Equal(got, []uint32{tt.want}) {
				t.Fatalf("first answer TTLs %v, want [%d]", got, tt.want)
			}
			clk.Advance(time.Duration(tt.want-1) * time.Second)
			if got := ttls(resolve(t, c, query("a.example.", dns.TypeA, false, false))); !slices.Equal(got, []uint32{1}) || next.n() != 1 {
				t.Fatalf("at clamped TTL-1: TTLs %v (want [1]), next calls %d (want 1)", got, next.n())
			}
			clk.Advance(time.Second)
			resolve(t, c, query("a.example.", dns.TypeA, false, false))
			if next.n() != 2 {
				t.Fatalf("next called %d times, want 2 after the clamped TTL", next.n())
			}
		})
	}
}

func TestNegativeCaching(t *testing.T) {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "x.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 600}, Target: "y.example."}
	tests := []struct {
		name   string
		rcode  int
		ans    []dns.RR
		ns     []dns.RR
		negTTL time.Duration
		want   uint32 // negative TTL; 0: not cached
	}{
		{"NXDOMAIN uses SOA MINIMUM", dns.RcodeNameError, nil, []dns.RR{soa("example.", 3600, 300)}, time.Hour, 300},
		{"NXDOMAIN uses SOA TTL when lower", dns.RcodeNameError, nil, []dns.RR{soa("example.", 60, 300)}, time.Hour, 60},
		{"NODATA", dns.RcodeSuccess, nil, []dns.RR{soa("example.", 3600, 900)}, time.Hour, 900},
		{"NODATA after CNAME", dns.RcodeSuccess, []dns.RR{cname}, []dns.RR{soa("example.", 3600, 120)}, time.Hour, 120},
		{"capped by negative_ttl", dns.RcodeNameError, nil, []dns.RR{soa("example.", 86400, 86400)}, 10 * time.Minute, 600},
		{"no SOA: not cached", dns.RcodeNameError, nil, nil, time.Hour, 0},
		{"NODATA without SOA: not cached", dns.RcodeSuccess, nil, nil, time.Hour, 0},
		{"negative_ttl 0: not cached", dns.RcodeNameError, nil, []dns.RR{soa("example.", 3600, 300)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.NegativeTTL = tt.negTTL
			next := &fakeNext{reply: fixed(tt.rcode, tt.ans, tt.ns)}
			c, clk := newTest(t, cfg, next, nil)
			q := func() *dns.Msg { return resolve(t, c, query("x.example.", dns.TypeAAAA, false, false)) }
			if m := q(); m.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if tt.want == 0 {
				q()
				if next.n() != 2 {
					t.Fatalf("next called %d times, want 2 (not cached)", next.n())
				}
				return
			}
			clk.Advance(time.Duration(tt.want-1) * time.Second)
			m := q()
			if next.n() != 1 || m.Rcode != tt.rcode {
				t.Fatalf("before expiry: next calls %d (want 1), rcode %d", next.n(), m.Rcode)
			}
			if s, ok := m.Ns[0].(*dns.SOA); !ok || s.Hdr.Ttl != 1 {
				t.Fatalf("authority %v: want the SOA with TTL 1 (negative TTL aged)", m.Ns)
			}
			clk.Advance(time.Second)
			q()
			if next.n() != 2 {
				t.Fatalf("after negative TTL: next called %d times, want 2", next.n())
			}
		})
	}
}

func TestServfailCachedBriefly(t *testing.T) {
	tests := []struct {
		name  string
		ttl   time.Duration
		at    time.Duration
		calls int
	}{
		{"within servfail_ttl", 5 * time.Second, 4999 * time.Millisecond, 1},
		{"after servfail_ttl", 5 * time.Second, 5 * time.Second, 2},
		{"servfail_ttl 0", 0, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ServfailTTL = tt.ttl
			next := &fakeNext{reply: fixed(dns.RcodeServerFailure, nil, nil)}
			c, clk := newTest(t, cfg, next, nil)
			resolve(t, c, query("a.example.", dns.TypeA, false, false))
			clk.Advance(tt.at)
			if m := resolve(t, c, query("a.example.", dns.TypeA, false, false)); m.Rcode != dns.RcodeServerFailure {
				t.Fatalf("rcode %d, want SERVFAIL", m.Rcode)
			}
			if next.n() != tt.calls {
				t.Fatalf("next called %d times, want %d", next.n(), tt.calls)
			}
		})
	}
}
