package recursive

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestParseHint(t *testing.T) {
	tests := []struct {
		in, name, addr, errPart string
	}{
		{"198.41.0.4", "hint-198-41-0-4.root-hints.invalid.", "198.41.0.4", ""},
		{"a.root-servers.net 198.41.0.4", "a.root-servers.net.", "198.41.0.4", ""},
		{"A.Root-Servers.NET. 2001:503:ba3e::2:30", "a.root-servers.net.", "2001:503:ba3e::2:30", ""},
		{"[2001:503:ba3e::2:30]", "hint-2001-503-ba3e--2-30.root-hints.invalid.", "2001:503:ba3e::2:30", ""},
		{"::ffff:198.41.0.4", "hint-198-41-0-4.root-hints.invalid.", "198.41.0.4", ""},
		{"127.0.0.2", "hint-127-0-0-2.root-hints.invalid.", "127.0.0.2", ""},
		{"", "", "", "not \"ip\" or \"name ip\""},
		{"a b c", "", "", "not \"ip\" or \"name ip\""},
		{"a.root-servers.net", "", "", "is not an IP address"},
		{"198.41.0.4:53", "", "", "is not an IP address"},
		{"0.0.0.0", "", "", "cannot be a root server"},
		{"ff02::1", "", "", "cannot be a root server"},
		{"fe80::1%eth0", "", "", "zoned"},
		{"bad..name 198.41.0.4", "", "", "is not a host name"},
	}
	for _, tt := range tests {
		h, err := parseHint(tt.in)
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("parseHint(%q) error %v, want one mentioning %q", tt.in, err, tt.errPart)
			}
			continue
		}
		if err != nil || h.name != tt.name || h.addr.String() != tt.addr {
			t.Errorf("parseHint(%q) = %q %v, %v; want %q %s", tt.in, h.name, h.addr, err, tt.name, tt.addr)
		}
	}
	for _, s := range ianaRootHints {
		if h, err := parseHint(s); err != nil || !strings.HasSuffix(h.name, ".root-servers.net.") {
			t.Errorf("built-in hint %q: %v", s, err)
		}
	}
	if len(ianaRootHints) != 26 {
		t.Errorf("%d built-in hints, want 13 servers x 2 families", len(ianaRootHints))
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"defaults", nil, nil},
		{"custom hints", func(c *Config) { c.RootHints = []string{"a.example 192.0.2.1", "2001:db8::1"} }, nil},
		{"bad hints", func(c *Config) {
			c.RootHints = []string{"192.0.2.1", "nope", "192.0.2.1", "127.0.0.1"}
		}, []string{"recursion.root_hints[1]", "recursion.root_hints[2]", "recursion.root_hints[3]"}},
		{"loopback allowed", func(c *Config) { c.RootHints, c.QueryLoopback = []string{"127.0.0.2", "::1"}, true }, nil},
		{"private hints", func(c *Config) { c.RootHints = []string{"10.0.0.1", "fd00::1", "100.64.0.1", "192.0.2.1"} },
			[]string{"recursion.root_hints[0]", "recursion.root_hints[1]", "recursion.root_hints[2]"}},
		{"private allowed", func(c *Config) { c.RootHints, c.QueryPrivate = []string{"10.0.0.1", "fd00::1"}, true }, nil},
		{"hints unreachable", func(c *Config) { c.RootHints, c.IPv6 = []string{"2001:db8::1"}, false }, []string{"recursion.root_hints"}},
		{"no family", func(c *Config) { c.IPv4, c.IPv6 = false, false }, []string{"recursion.ipv6"}},
		{"numbers", func(c *Config) {
			c.Port, c.MaxQueries, c.MaxDepth, c.MaxChain, c.InfraCacheSize, c.DelegationCacheSize = 70000, -1, 50, 0, -5, -5
		}, []string{"recursion.port", "recursion.max_queries", "recursion.max_depth", "recursion.max_chain",
			"recursion.infra_cache_size", "recursion.delegation_cache_size"}},
		{"durations", func(c *Config) { c.Timeout, c.LameTTL, c.InfraTTL = -time.Second, -1, -1 },
			[]string{"recursion.timeout", "recursion.lame_ttl", "recursion.infra_ttl"}},
		{"timeout too short", func(c *Config) { c.Timeout = time.Millisecond }, []string{"recursion.timeout"}},
		{"qname_minimisation_type NS", func(c *Config) { c.QnameMinimisationType = "ns" }, nil},
		{"qname_minimisation_type unknown", func(c *Config) { c.QnameMinimisationType = "AAAA" },
			[]string{"recursion.qname_minimisation_type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if tt.mod != nil {
				tt.mod(&c)
			}
			if got := cfgerr.Paths(c.Validate("recursion")); !slices.Equal(got, tt.want) {
				t.Errorf("error paths %q, want %q", got, tt.want)
			}
			if _, err := New(c, nil, nil, nil); (err == nil) != (tt.want == nil) {
				t.Errorf("New error %v, want error: %v", err, tt.want != nil)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	var doc struct {
		R Config `yaml:"recursion"`
	}
	src := `recursion:
  root_hints: ["a.example 192.0.2.1"]
  ipv6: false
  qname_minimisation: false
  max_queries: 20
  harden_glue: false
  qname_minimisation_type: NS
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	doc.R.SetDefaults() // as the root config does: must not undo the explicit values
	c := doc.R
	if c.IPv6 || !c.IPv4 || c.QnameMinimisation || c.MaxQueries != 20 || c.Port != DefaultPort ||
		c.Timeout != DefaultTimeout || c.MaxDepth != DefaultMaxDepth || c.CaseRandomisation || c.QueryLoopback ||
		c.HardenGlue || c.QnameMinimisationType != "NS" {
		t.Errorf("decoded %+v", c)
	}
	if errs := c.Validate("recursion"); len(errs) != 0 {
		t.Errorf("valid section: %v", errs)
	}

	err := yaml.Unmarshal([]byte("recursion:\n  max_query: 3\n"), &doc)
	if err == nil || !strings.Contains(err.Error(), "line 2: field max_query not found") {
		t.Errorf("unknown key: %v", err)
	}
	if err := yaml.Unmarshal([]byte("recursion:\n  port: fifty\n"), &doc); err == nil {
		t.Error("bad port type accepted")
	}

	// A section built in code gets every default, booleans included.
	var code Config
	code.SetDefaults()
	if !code.IPv4 || !code.IPv6 || !code.QnameMinimisation || code.Port != 53 || code.MaxQueries != DefaultMaxQueries ||
		!code.HardenGlue || code.QnameMinimisationType != "A" {
		t.Errorf("code defaults %+v", code)
	}
	v6only := Config{IPv6: true}
	v6only.SetDefaults()
	if v6only.IPv4 || !v6only.IPv6 {
		t.Errorf("IPv6-only config became %v/%v", v6only.IPv4, v6only.IPv6)
	}
}
