package upstream

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestParseServer(t *testing.T) {
	tests := []struct {
		in      string
		want    string // AddrPort, or "" for an error
		errPart string
	}{
		{"9.9.9.9", "9.9.9.9:53", ""},
		{"9.9.9.9:5353", "9.9.9.9:5353", ""},
		{"[2620:fe::fe]:53", "[2620:fe::fe]:53", ""},
		{"2620:fe::fe", "[2620:fe::fe]:53", ""},
		{"[::1]", "[::1]:53", ""},
		{"", "", "empty"},
		{"dns.quad9.net", "", "host names are not resolved"},
		{"dns.quad9.net:53", "", "host names are not resolved"},
		{"tls://9.9.9.9", "", "tls:// upstreams are not supported yet"},
		{"https://dns.quad9.net/dns-query", "", "https:// upstreams are not supported yet"},
		{"9.9.9.9:0", "", "port 0"},
		{"9.9.9.9:99999", "", "not an IP address"},
		{"0.0.0.0", "", "cannot be an upstream"},
		{"[ff02::1]:53", "", "cannot be an upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ep, err := parseServer(tt.in)
			if tt.want != "" {
				if err != nil || ep.addr != netip.MustParseAddrPort(tt.want) {
					t.Errorf("got %v, %v; want %s", ep.addr, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("error %v, want one mentioning %q", err, tt.errPart)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := []string{"9.9.9.9:53"}
	tests := []struct {
		name string
		cfg  Config
		want []string // error paths
	}{
		{"valid", Config{Servers: []string{"9.9.9.9", "149.112.112.112:53", "[2620:fe::fe]:53"}, Timeout: time.Second, TryTimeout: time.Second}, nil},
		{"defaults only", Config{Servers: ok}, nil},
		{"short timeout caps default try", Config{Servers: ok, Timeout: 500 * time.Millisecond}, nil},
		{"no servers", Config{}, []string{"upstream.servers"}},
		{"bad servers", Config{Servers: []string{"9.9.9.9", "dns.google", "tls://1.1.1.1", "1.1.1.1:0", "9.9.9.9:53"}},
			[]string{"upstream.servers[1]", "upstream.servers[2]", "upstream.servers[3]", "upstream.servers[4]"}},
		{"negative timeout", Config{Servers: ok, Timeout: -time.Second}, []string{"upstream.timeout"}},
		{"negative try", Config{Servers: ok, TryTimeout: -time.Second}, []string{"upstream.try_timeout"}},
		{"try exceeds total", Config{Servers: ok, Timeout: time.Second, TryTimeout: 2 * time.Second}, []string{"upstream.try_timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, err := range tt.cfg.Validate("upstream") {
				p, ok := cfgerr.Path(err)
				if !ok {
					t.Errorf("%v is not a *cfgerr.Error", err)
				}
				got = append(got, p)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("error paths %q, want %q", got, tt.want)
			}
			if _, err := New(tt.cfg, nil, nil); (err == nil) != (tt.want == nil) {
				t.Errorf("New error %v, want error: %v", err, tt.want != nil)
			}
		})
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
}
