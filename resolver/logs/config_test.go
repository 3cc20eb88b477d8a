package logs

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"

	"github.com/bulwark-dns/bulwark/resolver/logsink"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
)

func TestConfigSinks(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the first error; "" valid
		n    int    // sinks of the block log
	}{
		{Config{Blocked: "syslog+tls://siem.example:6514"}, "", 1},
		{Config{Blocked: "stdout", Sinks: []logsink.Config{{URL: "syslog+udp://127.0.0.1"}, {URL: "https://hec:8088/x", Log: "queries"}}}, "", 1},
		{Config{Blocked: "syslog+tcp://h:99999"}, "log.blocked: ", 0},
		{Config{Blocked: "syslog+tcp://a", Sinks: []logsink.Config{{URL: "syslog+udp://a"}}}, `two sinks are named "a"`, 2},
		{Config{Sinks: []logsink.Config{{URL: "ftp://x"}}}, "log.sinks[0].url", 0},
	}
	for _, tt := range tests {
		c := tt.cfg
		c.SetDefaults()
		errs := c.Validate("log")
		if tt.want == "" {
			if len(errs) > 0 {
				t.Errorf("%+v: %v", tt.cfg, errs)
			}
			if got := len(c.SinksOf("blocked")); got != tt.n {
				t.Errorf("%+v: %d block log sinks, want %d", tt.cfg, got, tt.n)
			}
			continue
		}
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tt.want)
		}
		if !found {
			t.Errorf("%+v: %v, want %q", tt.cfg, errs, tt.want)
		}
	}
}

// TestConfigClient: the privacy keys of the section, with their paths.
func TestConfigClient(t *testing.T) {
	tests := []struct {
		cfg  Config
		also []string // tenants' and dnstap's modes
		want string   // substring of the one error; "" valid
	}{
		{Config{}, nil, ""},
		{Config{Privacy: privacy.Config{Client: "truncate", TruncateIPv4: 16}, QueriesClient: "omit", BlockedClient: "full"}, nil, ""},
		{Config{Privacy: privacy.Config{Client: "anonymise"}}, nil, `log.client: "anonymise" is not one of`},
		{Config{BlockedClient: "mask"}, nil, `log.blocked_client: "mask" is not one of`},
		{Config{QueriesClient: "none"}, nil, `log.queries_client: "none" is not one of`},
		{Config{Privacy: privacy.Config{Client: "truncate", TruncateIPv6: 200}}, nil, "log.truncate_ipv6: 200 is outside 0-128"},
		{Config{Privacy: privacy.Config{HashKeyFile: "/k"}}, nil, "log.hash_key_file: is used only with client: hash"},
		// The key is used when one log, or a tenant, hashes.
		{Config{Privacy: privacy.Config{HashKeyFile: "/k"}, QueriesClient: "hash"}, nil, ""},
		{Config{Privacy: privacy.Config{HashKeyFile: "/k"}}, []string{"", "hash"}, ""},
	}
	for _, tt := range tests {
		c := tt.cfg
		c.SetDefaults()
		errs := c.Validate("log", tt.also...)
		if tt.want == "" && len(errs) > 0 || tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, errs, tt.want)
		}
	}
	c := Config{Privacy: privacy.Config{Client: "truncate", TruncateIPv4: 20}, QueriesClient: "omit"}
	if q, b := c.ClientOf("queries"), c.ClientOf("blocked"); q.Client != "omit" || q.TruncateIPv4 != 20 || b.Client != "truncate" {
		t.Errorf("ClientOf: queries %+v, blocked %+v", q, b)
	}
}

// TestConfigValidate: the query log keys, each mistake at its path.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // error paths
	}{
		{"defaults", Config{}, nil},
		{"query file", Config{Queries: filepath.Join(dir, "q.log"), QuerySample: f(0.01)}, nil},
		{"query dir missing", Config{Queries: filepath.Join(dir, "nope", "q.log")}, []string{"log.queries"}},
		{"sample zero", Config{QuerySample: f(0)}, []string{"log.query_sample"}},
		{"sample negative", Config{QuerySample: f(-0.5)}, []string{"log.query_sample"}},
		{"sample above one", Config{QuerySample: f(1.5)}, []string{"log.query_sample"}},
		{"sample NaN", Config{QuerySample: f(math.NaN())}, []string{"log.query_sample"}},
		{"both bad", Config{Blocked: filepath.Join(dir, "x", "b.log"), Queries: filepath.Join(dir, "y", "q.log")}, []string{"log.blocked", "log.queries"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.SetDefaults()
			errs := tc.cfg.Validate("log")
			if got := cfgerr.Paths(errs); !slices.Equal(got, tc.want) {
				t.Errorf("errors %v, want paths %v", errs, tc.want)
			}
		})
	}
	c := Config{}
	c.SetDefaults()
	if c.Queries != "off" || c.Sample() != 1 {
		t.Errorf("defaults: queries %q sample %v, want off and 1", c.Queries, c.Sample())
	}
}
