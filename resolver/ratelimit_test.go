package resolver_test

import (
	"context"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// exchangeMsgFrom sends m over UDP from local and returns the answer, nil
// when none came.
func exchangeMsgFrom(t *testing.T, local, server string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 400 * time.Millisecond,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(local)}}}
	resp, _, err := c.Exchange(m, server)
	if err != nil {
		return nil
	}
	return resp
}

// flood sends n queries made by mk from one socket on local, 20 at a
// time (each batch read by the server before the next, so the socket's
// buffer loses none), and returns the rcodes of the answers that came.
func flood(t *testing.T, e *env, local string, n int, mk func() *dns.Msg) map[int]int {
	t.Helper()
	c, err := net.ListenPacket("udp", local+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, _ := net.ResolveUDPAddr("udp", e.addr)
	base := metricValue(t, e.reg, "bulwark_queries_total")
	for i := 0; i < n; i++ {
		m := mk()
		m.Id = uint16(i)
		w, _ := m.Pack()
		if _, err := c.WriteTo(w, srv); err != nil {
			t.Fatal(err)
		}
		if (i+1)%20 != 0 && i != n-1 {
			continue
		}
		for deadline := time.Now().Add(10 * time.Second); metricValue(t, e.reg, "bulwark_queries_total")-base < float64(i+1); {
			if time.Now().After(deadline) {
				t.Fatalf("the server read %v of %d queries", metricValue(t, e.reg, "bulwark_queries_total")-base, i+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	rcodes := map[int]int{}
	buf := make([]byte, 512)
	for {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			return rcodes
		}
		resp := new(dns.Msg)
		if resp.Unpack(buf[:k]) == nil {
			rcodes[resp.Rcode]++
		}
	}
}

// TestRefusalsRateLimited: REFUSED and the guard's other error answers
// are limited per client network by their own bucket (errors_rate, as
// BIND's errors-per-second), whether or not the client is inside the ACL;
// past it they are dropped. Before, an address outside the ACL got every
// REFUSED it asked for (1:1 reflection) even with rate limiting on, since
// refusals took no token.
func TestRefusalsRateLimited(t *testing.T) {
	notify := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetNotify("example.org.")
		return m
	}
	classHS := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		m.Question[0].Qclass = dns.ClassHESIOD
		return m
	}
	outsideACL := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		return m
	}
	for _, tc := range []struct {
		name  string
		from  string
		query func() *dns.Msg
		rcode int
	}{
		{"outside the ACL: REFUSED", "127.0.1.1", outsideACL, dns.RcodeRefused},
		{"class HS: REFUSED", "127.0.0.1", classHS, dns.RcodeRefused},
		{"NOTIFY: NOTIMP", "127.0.0.1", notify, dns.RcodeNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Unix(1e9, 0))
			e := startEnv(t, phishingTable(t), envOpts{guard: pipeline.GuardConfig{
				Clock: clk,
				ACL:   pipeline.ACLConfig{Allow: []string{"127.0.0.1/32"}},
				// The default query rate; 5 errors/s (a bucket of 10); no
				// exemption for loopback, which these clients are.
				RateLimit: pipeline.RateLimitConfig{ErrorsRate: 5, Exempt: []string{}},
			}})
			// 30 at once: 10 answered (the bucket), 20 dropped.
			rcodes := flood(t, e, tc.from, 30, tc.query)
			if rcodes[tc.rcode] != 10 || len(rcodes) != 1 {
				t.Errorf("answers by rcode %v to 30 queries, want 10 %s", rcodes, dns.RcodeToString[tc.rcode])
			}
			if got := metricValue(t, e.reg, "bulwark_ratelimited_total"); got != 20 {
				t.Errorf("bulwark_ratelimited_total = %v, want 20", got)
			}
			// The errors bucket is not the query bucket: an ordinary
			// query from the allowed client is answered.
			if resp := queryFrom(t, "127.0.0.1", e.addr, "www.example.org", dns.TypeA, answerWait); resp == nil || resp.Rcode != dns.RcodeSuccess || resp.Truncated {
				t.Fatalf("ordinary query after the errors: %v", resp)
			}
			// Time refills the bucket.
			clk.Advance(time.Second)
			if resp := exchangeMsgFrom(t, tc.from, e.addr, tc.query()); resp == nil || resp.Rcode != tc.rcode {
				t.Fatalf("after a second: %v", resp)
			}
		})
	}
}

// TestRateLimitDefaults: rate limiting is on when the section is absent
// (DefaultRate queries/s, DefaultErrorsRate errors/s, loopback exempt),
// and a rate written as 0 turns that bucket off.
func TestRateLimitDefaults(t *testing.T) {
	def := pipeline.DefaultRateLimitConfig()
	for _, tc := range []struct {
		yaml string
		want pipeline.RateLimitConfig
	}{
		{"", def},
		{"ratelimit: {}", def},
		{"ratelimit: {rate: 0}", func() pipeline.RateLimitConfig {
			c := def
			c.Rate, c.Burst = 0, 1
			return c
		}()},
		{"ratelimit: {errors_rate: 0}", func() pipeline.RateLimitConfig { c := def; c.ErrorsRate = 0; return c }()},
		{"ratelimit: {rate: 50}", func() pipeline.RateLimitConfig { c := def; c.Rate, c.Burst = 50, 100; return c }()},
		{"ratelimit: {exempt: []}", func() pipeline.RateLimitConfig { c := def; c.Exempt = []string{}; return c }()},
	} {
		var doc struct {
			RateLimit pipeline.RateLimitConfig `yaml:"ratelimit"`
		}
		if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		doc.RateLimit.SetDefaults()
		if errs := doc.RateLimit.Validate("ratelimit"); len(errs) > 0 {
			t.Fatalf("%q: %v", tc.yaml, errs)
		}
		if !sameRateLimit(doc.RateLimit, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.yaml, doc.RateLimit, tc.want)
		}
	}
	if def.Rate != pipeline.DefaultRate || def.ErrorsRate != pipeline.DefaultErrorsRate || def.Burst != 2*pipeline.DefaultRate ||
		!reflect.DeepEqual(def.Exempt, []string{"127.0.0.0/8", "::1/128"}) {
		t.Errorf("defaults %+v", def)
	}
	var doc struct {
		RateLimit pipeline.RateLimitConfig `yaml:"ratelimit"`
	}
	err := yaml.Unmarshal([]byte("ratelimit:\n  errors_per_second: 5\n"), &doc)
	if err == nil || !strings.Contains(err.Error(), "errors_per_second") {
		t.Errorf("unknown key: %v", err)
	}
	doc.RateLimit = pipeline.RateLimitConfig{Exempt: []string{"10.0.0.0/33"}, ErrorsRate: -1}
	doc.RateLimit.SetDefaults()
	msg := ""
	for _, e := range doc.RateLimit.Validate("ratelimit") {
		msg += e.Error() + "\n"
	}
	for _, want := range []string{"ratelimit.exempt[0]", `"10.0.0.0/33"`, "ratelimit.errors_rate"} {
		if !strings.Contains(msg, want) {
			t.Errorf("validation errors %q do not name %s", msg, want)
		}
	}
}

// sameRateLimit compares the exported settings.
func sameRateLimit(a, b pipeline.RateLimitConfig) bool {
	return a.Rate == b.Rate && a.Burst == b.Burst && a.ErrorsRate == b.ErrorsRate && a.Action == b.Action &&
		a.IPv4Prefix == b.IPv4Prefix && a.IPv6Prefix == b.IPv6Prefix && a.MaxClients == b.MaxClients &&
		reflect.DeepEqual(a.Exempt, b.Exempt)
}

// TestDefaultRateLimitRefusesSpoofedFlood: with no ratelimit section, a
// flood of queries from one network outside the ACL gets
// 2 × DefaultErrorsRate REFUSED answers, then silence.
func TestDefaultRateLimitRefusesSpoofedFlood(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	e := startEnv(t, phishingTable(t), envOpts{guard: pipeline.GuardConfig{
		Clock: clk, ACL: pipeline.ACLConfig{Allow: []string{"127.0.0.1/32"}},
		RateLimit: pipeline.RateLimitConfig{Exempt: []string{}}, // loopback is the only source a test has
	}})
	const n = 3 * pipeline.DefaultErrorsRate
	rcodes := flood(t, e, "127.0.1.1", n, func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.org.", dns.TypeA)
		return m
	})
	if rcodes[dns.RcodeRefused] != 2*pipeline.DefaultErrorsRate || len(rcodes) != 1 {
		t.Errorf("answers by rcode %v to %d queries from outside the ACL, want %d REFUSED", rcodes, n, 2*pipeline.DefaultErrorsRate)
	}
	if got := metricValue(t, e.reg, "bulwark_ratelimited_total"); got != n-2*pipeline.DefaultErrorsRate {
		t.Errorf("bulwark_ratelimited_total = %v, want %d", got, n-2*pipeline.DefaultErrorsRate)
	}
}

// TestFastPathTakesOneToken: under rate limiting the fast path answers
// (cached and blocked names alike) while the client's bucket has tokens,
// and past it the chain truncates, each query taking one token. Before,
// any rate limit turned the fast path off.
func TestFastPathTakesOneToken(t *testing.T) {
	p := newFastPairGuarded(t, nil, nil, pipeline.GuardConfig{
		ACL:       pipeline.ACLConfig{Allow: []string{"127.0.0.0/8"}},
		RateLimit: pipeline.RateLimitConfig{Rate: 1, Burst: 6, Exempt: []string{}},
	})
	client := netip.MustParseAddrPort("127.0.0.1:5353")
	other := netip.MustParseAddrPort("127.0.1.1:5353")
	var pkts [][]byte
	for _, name := range []string{"www.example.org.", "x.evil.example."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		w, _ := m.Pack()
		pkts = append(pkts, w)
		p.fast.Serve(context.Background(), w, other, query.ProtoUDP, nil) // fill the cache from another /24
	}
	fast, truncated := 0, 0
	for i := 0; i < 12; i++ {
		out, handled := p.answeredFast(pkts[i%2], client)
		resp := new(dns.Msg)
		if err := resp.Unpack(out); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		switch {
		case handled && !resp.Truncated:
			fast++
		case !handled && resp.Truncated:
			truncated++
		default:
			t.Fatalf("query %d: handled %v, answer %v", i, handled, resp)
		}
	}
	if fast != 6 || truncated != 6 {
		t.Fatalf("fast path answered %d, chain truncated %d; want 6 and 6", fast, truncated)
	}
	p.clk.Advance(time.Second)
	if _, handled := p.answeredFast(pkts[0], client); !handled {
		t.Fatal("after a second the fast path declined")
	}
}

// BenchmarkFastPathRateLimit is one cached answer on the fast path for a
// client the rate limit exempts (loopback, the default) and for one it
// limits (a token taken per query): the cost of the bucket.
func BenchmarkFastPathRateLimit(b *testing.B) {
	acl := pipeline.ACLConfig{Allow: []string{"127.0.0.0/8"}}
	for _, bc := range []struct {
		name string
		rl   pipeline.RateLimitConfig
	}{
		{"exempt", pipeline.RateLimitConfig{}},
		{"limited", pipeline.RateLimitConfig{Rate: 1e9, Burst: 1 << 30, Exempt: []string{}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newFastPairGuarded(b, nil, nil, pipeline.GuardConfig{ACL: acl, RateLimit: bc.rl, Clock: clock.Real{}})
			client := netip.MustParseAddrPort("127.0.0.1:5353")
			m := new(dns.Msg)
			m.SetQuestion("www.example.org.", dns.TypeA)
			w, _ := m.Pack()
			p.plain.ServePacket(context.Background(), w, client)
			buf := make([]byte, 0, 4096)
			if _, ok := p.fast.AnswerFast(w, client, buf); !ok {
				b.Fatal("the fast path declined")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := p.fast.AnswerFast(w, client, buf[:0]); !ok {
					b.Fatal("the fast path declined")
				}
			}
		})
	}
}
