package upstream

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestParseServer(t *testing.T) {
	tests := []struct {
		in      string
		want    string // canonical endpoint, or "" for an error
		errPart string
	}{
		// Plain DNS, bare (the original forms) and as URLs.
		{"9.9.9.9", "udp://9.9.9.9:53", ""},
		{"9.9.9.9:5353", "udp://9.9.9.9:5353", ""},
		{"[2620:fe::fe]:53", "udp://[2620:fe::fe]:53", ""},
		{"2620:fe::fe", "udp://[2620:fe::fe]:53", ""},
		{"[::1]", "udp://[::1]:53", ""},
		{"udp://9.9.9.9", "udp://9.9.9.9:53", ""},
		{"UDP://9.9.9.9:5300", "udp://9.9.9.9:5300", ""},
		{"tcp://[2620:fe::fe]", "tcp://[2620:fe::fe]:53", ""},
		// DoT.
		{"tls://9.9.9.9", "tls://9.9.9.9:853", ""},
		{"tls://dns.quad9.net@9.9.9.9", "tls://dns.quad9.net:853@9.9.9.9", ""},
		{"tls://DNS.Quad9.net.@9.9.9.9:8853", "tls://dns.quad9.net:8853@9.9.9.9", ""},
		{"tls://dns.quad9.net:8853@9.9.9.9", "tls://dns.quad9.net:8853@9.9.9.9", ""},
		{"tls://dns.quad9.net:8853@9.9.9.9:8853", "tls://dns.quad9.net:8853@9.9.9.9", ""},
		{"tls://dns.quad9.net@[2620:fe::fe]:853", "tls://dns.quad9.net:853@2620:fe::fe", ""},
		{"tls://[2620:fe::fe]", "tls://[2620:fe::fe]:853", ""},
		{"tls://[2620:fe::fe]:8853", "tls://[2620:fe::fe]:8853", ""},
		{"tls://dns.quad9.net", "tls://dns.quad9.net:853", ""}, // resolved through bootstrap
		// DoH.
		{"https://dns.quad9.net/dns-query", "https://dns.quad9.net/dns-query", ""},
		{"https://dns.quad9.net/dns-query@9.9.9.9", "https://dns.quad9.net/dns-query@9.9.9.9", ""},
		{"https://dns.quad9.net@9.9.9.9", "https://dns.quad9.net/dns-query@9.9.9.9", ""},
		{"https://dns.quad9.net:8443/q?x=1@9.9.9.9:8443", "https://dns.quad9.net:8443/q?x=1@9.9.9.9", ""},
		{"https://dns.example/dns-query{?dns}", "https://dns.example/dns-query", ""},
		{"https://127.0.0.1:8443/dns-query", "https://127.0.0.1:8443/dns-query@127.0.0.1", ""},
		{"https://[2620:fe::fe]/dns-query", "https://[2620:fe::fe]/dns-query@2620:fe::fe", ""},
		// Errors.
		{"", "", "empty"},
		{"dns.quad9.net", "", "host names are not resolved"},
		{"dns.quad9.net:53", "", "host names are not resolved"},
		{"udp://dns.quad9.net", "", "host names are not resolved"},
		{"udp://9.9.9.9/x", "", "only an address"},
		{"9.9.9.9:0", "", "port 0"},
		{"9.9.9.9:99999", "", "not an IP address"},
		{"0.0.0.0", "", "cannot be an upstream"},
		{"[ff02::1]:53", "", "cannot be an upstream"},
		{"[fe80::1%eth0]:53", "", "zoned"},
		{"quic://9.9.9.9", "", "unknown scheme"},
		{"http://dns.quad9.net/dns-query", "", "needs https://"},
		{"tls://dns.quad9.net@dns9.quad9.net", "", "not an IP address"},
		{"tls://dns.quad9.net:853@9.9.9.9:8853", "", "two different ports"},
		{"tls://dns.quad9.net:0@9.9.9.9", "", "bad port"},
		{"tls://dns.quad9.net/path@9.9.9.9", "", "NAME[:PORT]"},
		{"tls://9.9.9.999", "", "neither an IP address nor a host name"},
		{"tls://bad_name!.example", "", "not a valid host name"},
		{"tls://dns.exämple@9.9.9.9", "", "A-label"},
		{"tls://a..b@9.9.9.9", "", "empty or over-long label"},
		{"tls://0.0.0.0", "", "cannot be an upstream"},
		{"tls://x@0.0.0.0", "", "cannot be an upstream"},
		{"https://user@dns.quad9.net/dns-query", "", "user info"},
		{"https://dns.quad9.net@9.9.9.9/dns-query", "", "user info"},
		{"https://dns.quad9.net/dns-query#frag", "", "fragment"},
		{"https:///dns-query", "", "no host"},
		{"https://dns.quad9.net/dns-query{?dns,ct}", "", "template"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ep, err := parseServer(tt.in)
			if tt.want != "" {
				if err != nil || ep.String() != tt.want {
					t.Errorf("got %s, %v; want %s", ep, err, tt.want)
				}
				if back, err := parseServer(ep.String()); err != nil || back != ep {
					t.Errorf("canonical form %s parses as %+v, %v", ep, back, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("error %v, want one mentioning %q", err, tt.errPart)
			}
		})
	}
}

func TestEndpointFields(t *testing.T) {
	ep, err := parseServer("https://dns.quad9.net/dns-query@9.9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	if ep.transport != transHTTPS || ep.host != "dns.quad9.net" || ep.addrPort().String() != "9.9.9.9:443" || ep.url != "https://dns.quad9.net/dns-query" || ep.needsBootstrap() {
		t.Errorf("%+v", ep)
	}
	ep, _ = parseServer("tls://dns.quad9.net")
	if !ep.needsBootstrap() || ep.port != portTLS {
		t.Errorf("%+v: want a bootstrap lookup on port 853", ep)
	}
}

func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"9.9.9.9", "[::1]:53", "udp://1.2.3.4", "tcp://[::1]:5353", "tls://dns.quad9.net@9.9.9.9",
		"tls://[2620:fe::fe]:853", "https://dns.quad9.net/dns-query@9.9.9.9", "https://a.example:8443/q?x=1{?dns}", "https://x@y/z@1.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := parseServer(s)
		if err != nil {
			return
		}
		back, err := parseServer(ep.String())
		if err != nil || back != ep {
			t.Fatalf("%q -> %s -> %+v, %v", s, ep, back, err)
		}
		if !ep.needsBootstrap() && !ep.addrPort().IsValid() || ep.port == 0 {
			t.Fatalf("%q: no address to connect to: %+v", s, ep)
		}
		if (ep.transport == transTLS || ep.transport == transHTTPS) && ep.host == "" {
			t.Fatalf("%q: no TLS name: %+v", s, ep)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := []string{"9.9.9.9:53"}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // error paths
	}{
		{"valid", Config{Servers: []string{"9.9.9.9", "149.112.112.112:53", "[2620:fe::fe]:53"}, Timeout: time.Second, TryTimeout: time.Second}, nil},
		{"defaults only", Config{Servers: ok}, nil},
		{"short timeout caps default try", Config{Servers: ok, Timeout: 500 * time.Millisecond}, nil},
		{"every transport", Config{Servers: []string{"udp://9.9.9.9", "tcp://9.9.9.9", "tls://dns.quad9.net@9.9.9.9", "https://dns.quad9.net/dns-query@9.9.9.9"}}, nil},
		{"host names with bootstrap", Config{Servers: []string{"tls://dns.quad9.net", "https://dns.quad9.net/dns-query"}, Bootstrap: []string{"9.9.9.9"}}, nil},
		{"host name without bootstrap", Config{Servers: []string{"9.9.9.9", "tls://dns.quad9.net"}}, []string{"upstream.servers[1]"}},
		{"bad bootstrap", Config{Servers: []string{"https://dns.quad9.net/dns-query"}, Bootstrap: []string{"tls://9.9.9.9", "dns.google"}},
			[]string{"upstream.bootstrap[0]", "upstream.bootstrap[1]", "upstream.servers[0]"}},
		{"no servers", Config{}, []string{"upstream.servers"}},
		{"recursive without servers", Config{Mode: ModeRecursive}, nil},
		{"recursive with servers", Config{Mode: ModeRecursive, Servers: ok}, []string{"upstream.servers"}},
		{"bad mode", Config{Mode: "stub", Servers: ok}, []string{"upstream.mode"}},
		{"bad servers", Config{Servers: []string{"9.9.9.9", "dns.google", "ftp://1.1.1.1", "1.1.1.1:0", "9.9.9.9:53", "udp://9.9.9.9"}},
			[]string{"upstream.servers[1]", "upstream.servers[2]", "upstream.servers[3]", "upstream.servers[4]", "upstream.servers[5]"}},
		{"negative timeout", Config{Servers: ok, Timeout: -time.Second}, []string{"upstream.timeout"}},
		{"negative try", Config{Servers: ok, TryTimeout: -time.Second}, []string{"upstream.try_timeout"}},
		{"try exceeds total", Config{Servers: ok, Timeout: time.Second, TryTimeout: 2 * time.Second}, []string{"upstream.try_timeout"}},
		{"strategies", Config{Servers: ok, Strategy: StrategyParallel}, nil},
		{"bad strategy", Config{Servers: ok, Strategy: "round-robin"}, []string{"upstream.strategy"}},
		{"weights", Config{Servers: []string{"9.9.9.9", "1.1.1.1"}, Strategy: StrategyRandom, Weights: []int{3, 0}}, nil},
		{"weights without random", Config{Servers: ok, Weights: []int{1}}, []string{"upstream.weights"}},
		{"weights count", Config{Servers: ok, Strategy: StrategyRandom, Weights: []int{1, 2}}, []string{"upstream.weights"}},
		{"weights range", Config{Servers: []string{"9.9.9.9", "1.1.1.1"}, Strategy: StrategyRandom, Weights: []int{-1, 1001}},
			[]string{"upstream.weights[0]", "upstream.weights[1]"}},
		{"all backups", Config{Servers: ok, Strategy: StrategyRandom, Weights: []int{0}}, []string{"upstream.weights"}},
		{"doh method", Config{Servers: ok, DoHMethod: "put"}, []string{"upstream.doh_method"}},
		{"missing ca file", Config{Servers: ok, CAFile: filepath.Join(dir, "nope.pem")}, []string{"upstream.ca_file"}},
		{"ca file without certificates", Config{Servers: ok, CAFile: notPEM}, []string{"upstream.ca_file"}},
		{"health", Config{Servers: ok, Health: HealthConfig{Failures: -1, Cooldown: -time.Second}},
			[]string{"upstream.health.failures", "upstream.health.cooldown"}},
		{"ecs", Config{Servers: ok, ECS: ECSConfig{Forward: true, IPv4Prefix: 33, IPv6Prefix: 129}},
			[]string{"upstream.ecs.ipv4_prefix", "upstream.ecs.ipv6_prefix"}},
		{"ecs client address needs forward", Config{Servers: ok, ECS: ECSConfig{UseClientAddress: true}}, []string{"upstream.ecs.use_client_address"}},
		{"conditional", Config{Servers: ok, Conditional: []ConditionalConfig{
			{Domains: []string{"corp.internal", "10.in-addr.arpa.", "Bücher.example"}, Servers: []string{"10.0.0.53", "tls://ns.corp.internal@10.0.0.54"}},
			{Domains: []string{"lan"}, Servers: []string{"192.168.1.1", "192.168.1.2"}, Strategy: StrategyRandom, Weights: []int{1, 1}},
		}}, nil},
		{"bad conditional", Config{Servers: ok, Conditional: []ConditionalConfig{
			{Domains: []string{"corp.internal", ".", "a..b", "CORP.internal."}, Servers: []string{"10.0.0.53", "ns.corp.internal"}, Strategy: "best"},
			{},
		}}, []string{
			"upstream.conditional[0].domains[1]", "upstream.conditional[0].domains[2]", "upstream.conditional[0].domains[3]",
			"upstream.conditional[0].servers[1]", "upstream.conditional[0].strategy",
			"upstream.conditional[1].domains", "upstream.conditional[1].servers",
		}},
		{"conditional in recursive mode", Config{Mode: ModeRecursive, Conditional: []ConditionalConfig{{Domains: []string{"corp.internal"}, Servers: []string{"10.0.0.53"}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cfgerr.Paths(tt.cfg.Validate("upstream"))
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("error paths %q, want %q", got, want)
				for _, err := range tt.cfg.Validate("upstream") {
					t.Log(err)
				}
			}
			f, err := New(tt.cfg, nil, nil)
			if (err == nil) != (tt.want == nil) {
				t.Errorf("New error %v, want error: %v", err, tt.want != nil)
			}
			if f != nil {
				f.Close()
			}
		})
	}
}

func TestValidateMessages(t *testing.T) {
	cfg := Config{Servers: []string{"tls://dns.quad9.net"}, Strategy: StrategyRandom, Weights: []int{1, 1}}
	var msgs []string
	for _, err := range cfg.Validate("upstream") {
		msgs = append(msgs, err.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`upstream.servers[0]: "tls://dns.quad9.net": the host name dns.quad9.net needs an address: append @IP`,
		"upstream.weights: 2 weights for 1 servers",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors\n%s\nlack %q", all, want)
		}
	}
}

func TestSetDefaults(t *testing.T) {
	tests := []struct {
		in, want Config
	}{
		{Config{}, Config{Timeout: DefaultTimeout, TryTimeout: DefaultTryTimeout}},
		{Config{Timeout: 300 * time.Millisecond}, Config{Timeout: 300 * time.Millisecond, TryTimeout: 300 * time.Millisecond}},
		{Config{Timeout: 5 * time.Second, TryTimeout: time.Second}, Config{Timeout: 5 * time.Second, TryTimeout: time.Second}},
	}
	for _, tt := range tests {
		got := tt.in
		got.SetDefaults()
		if got.Timeout != tt.want.Timeout || got.TryTimeout != tt.want.TryTimeout {
			t.Errorf("SetDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	var c Config
	c.Conditional = []ConditionalConfig{{}}
	c.SetDefaults()
	if c.Mode != ModeForward || c.Strategy != StrategyFailover || c.DoHMethod != MethodPOST ||
		c.Health != (HealthConfig{Failures: DefaultFailures, Cooldown: DefaultCooldown}) ||
		c.ECS != (ECSConfig{IPv4Prefix: 24, IPv6Prefix: 56}) || c.Conditional[0].Strategy != StrategyFailover {
		t.Errorf("defaults %+v", c)
	}
}
