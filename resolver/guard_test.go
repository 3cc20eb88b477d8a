package resolver_test

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
)

// How long queryFrom waits. A query the test expects answered may take
// long on a loaded machine (a load average of 10-19 on two cores starved
// a 400 ms wait for an ordinary forwarded answer), so it gets answerWait;
// only a stalled server takes that long. Silence cannot be waited for
// to the end: silenceWait is how long a test that expects none listens,
// and an answer later than that passes such a check rather than fail it.
const (
	answerWait  = 5 * time.Second
	silenceWait = 400 * time.Millisecond
)

// queryFrom asks one UDP question from a chosen local address (e.g.
// 127.0.1.1, to be another /24 than 127.0.0.1) and returns nil if no
// answer came within wait (answerWait or silenceWait).
func queryFrom(t *testing.T, local, server, name string, qtype uint16, wait time.Duration) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: "udp", Timeout: wait,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(local)}}}
	resp, _, err := c.Exchange(m, server)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil
		}
		t.Fatalf("query from %s: %v", local, err)
	}
	return resp
}

func TestACL(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		allow   []string
		action  string
		from    string
		want    int // rcode; -1 for no answer
		counted bool
	}{
		{"allowed v4", "127.0.0.1:0", []string{"127.0.0.2/32"}, "", "127.0.0.2", dns.RcodeSuccess, false},
		{"refused v4", "127.0.0.1:0", []string{"127.0.0.2/32"}, "", "127.0.0.1", dns.RcodeRefused, true},
		{"dropped v4", "127.0.0.1:0", []string{"127.0.0.2/32"}, "drop", "127.0.0.1", -1, true},
		{"bare address", "127.0.0.1:0", []string{"127.0.0.3"}, "", "127.0.0.3", dns.RcodeSuccess, false},
		{"allowed v6", "[::1]:0", []string{"::1/128"}, "", "::1", dns.RcodeSuccess, false},
		{"refused v6", "[::1]:0", []string{"127.0.0.0/8"}, "", "::1", dns.RcodeRefused, true},
		{"default acl allows loopback", "[::1]:0", nil, "", "::1", dns.RcodeSuccess, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEnv(t, phishingTable(t), envOpts{listen: tt.listen,
				guard: pipeline.GuardConfig{ACL: pipeline.ACLConfig{Allow: tt.allow, Action: tt.action}}})
			wait := answerWait
			if tt.want == -1 {
				wait = silenceWait
			}
			resp := queryFrom(t, tt.from, e.addr, "www.example.org", dns.TypeA, wait)
			switch {
			case tt.want == -1 && resp != nil:
				t.Fatalf("got an answer %v, want silence", resp)
			case tt.want >= 0 && resp == nil:
				t.Fatal("no answer")
			case tt.want >= 0 && resp.Rcode != tt.want:
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.want])
			}
			if got := metricValue(t, e.reg, "bulwark_acl_denied_total"); (got == 1) != tt.counted {
				t.Errorf("bulwark_acl_denied_total = %v", got)
			}
			if tt.counted && e.ups[0].Count() != 0 {
				t.Errorf("a denied query reached the upstream")
			}
		})
	}
}

func TestRateLimitPerClientNetwork(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	for _, action := range []string{"truncate", "drop"} {
		t.Run(action, func(t *testing.T) {
			e := startEnv(t, phishingTable(t), envOpts{guard: pipeline.GuardConfig{
				Clock:     clk,
				RateLimit: pipeline.RateLimitConfig{Rate: 5, Burst: 5, Action: action, Exempt: []string{}},
			}})
			// A flood from 127.0.0.1: the bucket holds 5 and the fake clock
			// does not refill it.
			// Past the bucket's 5, action drop is silence: listened for
			// only as long as silence is.
			limitedWait := answerWait
			if action == "drop" {
				limitedWait = silenceWait
			}
			answered, limited := 0, 0
			for i := 0; i < 20; i++ {
				wait := answerWait
				if i >= 5 {
					wait = limitedWait
				}
				resp := queryFrom(t, "127.0.0.1", e.addr, "www.example.org", dns.TypeA, wait)
				switch {
				case resp == nil && action == "drop":
					limited++
				case resp != nil && resp.Truncated && len(resp.Answer) == 0 && action == "truncate":
					limited++
				case resp != nil && resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 1:
					answered++
				default:
					t.Fatalf("unexpected answer %v", resp)
				}
			}
			if answered != 5 || limited != 15 {
				t.Fatalf("answered %d, limited %d; want 5 and 15", answered, limited)
			}
			// Another /24 is not starved by the flood.
			for i := 0; i < 5; i++ {
				if resp := queryFrom(t, "127.0.1.1", e.addr, "www.example.org", dns.TypeA, answerWait); resp == nil || resp.Truncated {
					t.Fatalf("client in another /24 limited: %v", resp)
				}
			}
			// The same /24 from another address shares the bucket.
			if resp := queryFrom(t, "127.0.0.9", e.addr, "www.example.org", dns.TypeA, limitedWait); resp != nil && !resp.Truncated {
				t.Fatalf("127.0.0.9 shares 127.0.0.1's /24 but was answered: %v", resp)
			}
			// TCP is not rate limited: a real client retries there.
			if resp := e.query(t, "tcp", "www.example.org", dns.TypeA, false); resp.Truncated || len(resp.Answer) != 1 {
				t.Fatalf("TCP answer %v", resp)
			}
			// Time refills the bucket.
			clk.Advance(time.Second)
			if resp := queryFrom(t, "127.0.0.1", e.addr, "www.example.org", dns.TypeA, answerWait); resp == nil || resp.Truncated {
				t.Fatalf("after a second: %v", resp)
			}
			if got := metricValue(t, e.reg, "bulwark_ratelimited_total"); got != 16 {
				t.Errorf("bulwark_ratelimited_total = %v, want 16", got)
			}
		})
	}
}

func TestRateLimitIPv6Prefix(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	e := startEnv(t, phishingTable(t), envOpts{listen: "[::1]:0", guard: pipeline.GuardConfig{
		Clock: clk, RateLimit: pipeline.RateLimitConfig{Rate: 2, Burst: 2, Action: "drop", Exempt: []string{}},
	}})
	got := 0
	for i := 0; i < 6; i++ {
		wait := answerWait // the bucket's 2, then silence
		if i >= 2 {
			wait = silenceWait
		}
		if queryFrom(t, "::1", e.addr, "www.example.org", dns.TypeA, wait) != nil {
			got++
		}
	}
	if got != 2 {
		t.Fatalf("answered %d of 6 from ::1, want 2", got)
	}
}

func TestChaosAndAny(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{guard: pipeline.GuardConfig{Chaos: pipeline.ChaosConfig{Version: "bulwark-test", ID: "node-7"}}})
	for name, want := range map[string]string{"version.bind.": "bulwark-test", "VERSION.SERVER.": "bulwark-test", "id.server.": "node-7", "hostname.bind.": "node-7"} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		resp, _, err := (&dns.Client{}).Exchange(m, e.addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.TXT).Txt[0] != want || resp.Answer[0].Header().Class != dns.ClassCHAOS {
			t.Errorf("%s: %v, want TXT %q", name, resp.Answer, want)
		}
	}
	m := new(dns.Msg)
	m.SetQuestion("other.bind.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	if resp, _, err := (&dns.Client{}).Exchange(m, e.addr); err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("other CHAOS name: %v %v", resp, err)
	}
	resp := e.query(t, "udp", "www.example.org", dns.TypeANY, false)
	if len(resp.Answer) != 1 {
		t.Fatalf("ANY: %v", resp.Answer)
	}
	if h, ok := resp.Answer[0].(*dns.HINFO); !ok || h.Cpu != "RFC8482" {
		t.Errorf("ANY answered %v, want the RFC 8482 HINFO", resp.Answer[0])
	}
	if e.ups[0].Count() != 0 {
		t.Error("ANY or CHAOS reached the upstream")
	}
}

func TestTruncationAtAdvertisedSize(t *testing.T) {
	e := startEnv(t, phishingTable(t), envOpts{listenCfg: resolver.ListenConfig{DNS: []string{"127.0.0.1:0"}, UDPSize: 1232}})
	for i := 0; i < 40; i++ {
		e.ups[0].Add("big.example.org. 300 IN TXT \"" + string(rune('a'+i%26)) + string(make([]byte, 0)) + "0123456789012345678901234567890123456789\"")
	}
	for _, tt := range []struct {
		size    uint16 // 0: no EDNS
		wantTC  bool
		maxWire int
	}{
		{0, true, 512}, {512, true, 512}, {1000, true, 1000}, {1232, true, 1232}, {4096, true, 1232},
	} {
		m := new(dns.Msg)
		m.SetQuestion("big.example.org.", dns.TypeTXT)
		if tt.size > 0 {
			m.SetEdns0(tt.size, false)
		}
		conn, err := net.Dial("udp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := m.Pack()
		_, _ = conn.Write(w)
		buf := make([]byte, 65535)
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := conn.Read(buf)
		conn.Close()
		if err != nil {
			t.Fatalf("size %d: %v", tt.size, err)
		}
		var resp dns.Msg
		if err := resp.Unpack(buf[:n]); err != nil {
			t.Fatalf("size %d: %v", tt.size, err)
		}
		if resp.Truncated != tt.wantTC || n > tt.maxWire {
			t.Errorf("advertised %d: TC=%v, %d bytes; want TC=%v, at most %d bytes", tt.size, resp.Truncated, n, tt.wantTC, tt.maxWire)
		}
		if tt.size > 0 && resp.IsEdns0() == nil {
			t.Errorf("advertised %d: truncated answer lost its OPT", tt.size)
		}
	}
}
