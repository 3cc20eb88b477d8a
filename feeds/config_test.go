package feeds

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

func TestListConfigValidate(t *testing.T) {
	ok := ListConfig{Name: "phishing", Source: "file:lists/p.txt"}
	tests := []struct {
		name  string
		allow bool
		edit  func(c *ListConfig)
		paths []string // want one error per path, in order
	}{
		{"minimal block", false, func(c *ListConfig) {}, nil},
		{"minimal allow", true, func(c *ListConfig) {}, nil},
		{"full block", false, func(c *ListConfig) {
			c.Source, c.Format, c.Action, c.Category, c.Refresh = "builtin:p.txt", "hosts", "sinkhole", "phishing", 3600e9
			c.Sinkhole = []string{"192.0.2.1", "2001:db8::1"}
		}, nil},
		{"every action", false, func(c *ListConfig) { c.Action = "drop" }, nil},
		{"empty name", false, func(c *ListConfig) { c.Name = "" }, []string{"b[0].name"}},
		{"spaced name", false, func(c *ListConfig) { c.Name = " x" }, []string{"b[0].name"}},
		{"name ..", false, func(c *ListConfig) { c.Name = ".." }, []string{"b[0].name"}},
		{"name .", false, func(c *ListConfig) { c.Name = "." }, []string{"b[0].name"}},
		{"name with a slash", false, func(c *ListConfig) { c.Name = "a/../../etc" }, []string{"b[0].name"}},
		{"name with a backslash", false, func(c *ListConfig) { c.Name = `a\b` }, []string{"b[0].name"}},
		{"name starting with -", false, func(c *ListConfig) { c.Name = "-x" }, []string{"b[0].name"}},
		{"name with a space", false, func(c *ListConfig) { c.Name = "my list" }, []string{"b[0].name"}},
		{"name too long", false, func(c *ListConfig) { c.Name = strings.Repeat("a", 65) }, []string{"b[0].name"}},
		{"name of every allowed kind", false, func(c *ListConfig) { c.Name = "Phish_2.more-lists" }, nil},
		{"empty source", false, func(c *ListConfig) { c.Source = "" }, []string{"b[0].source"}},
		{"bare path", false, func(c *ListConfig) { c.Source = "lists/p.txt" }, []string{"b[0].source"}},
		{"empty file", false, func(c *ListConfig) { c.Source = "file:" }, []string{"b[0].source"}},
		{"bad builtin", false, func(c *ListConfig) { c.Source = "builtin:../x" }, []string{"b[0].source"}},
		{"https", false, func(c *ListConfig) { c.Source = "https://x.example/l.txt?key=k" }, nil},
		{"http no host", false, func(c *ListConfig) { c.Source = "http:///l.txt" }, []string{"b[0].source"}},
		{"http fragment", false, func(c *ListConfig) { c.Source = "https://x.example/l.txt#top" }, []string{"b[0].source"}},
		{"ftp", false, func(c *ListConfig) { c.Source = "ftp://x.example/l.txt" }, []string{"b[0].source"}},
		{"remote settings", false, func(c *ListConfig) {
			r := 0.0
			c.Source, c.Format, c.Refresh, c.Timeout, c.MaxSize, c.MinRatio = "https://x.example/z", "rpz", 3600e9, 30e9, 1<<20, &r
			c.Headers = map[string]string{"X-Api-Key": "${FEED_KEY}", "Authorization": "Bearer ${TOKEN}", "X-Secret": "file:/run/secrets/k"}
		}, nil},
		{"remote refresh too often", false, func(c *ListConfig) { c.Source, c.Refresh = "https://x.example/z", 30e9 }, []string{"b[0].refresh"}},
		{"local refresh too often", false, func(c *ListConfig) { c.Refresh = 1e6 }, []string{"b[0].refresh"}},
		{"local refresh 30s", false, func(c *ListConfig) { c.Refresh = 30e9 }, nil},
		{"negative timeout and size", false, func(c *ListConfig) { c.Timeout, c.MaxSize = -1, -1 }, []string{"b[0].timeout", "b[0].max_size"}},
		{"negative max_entries", false, func(c *ListConfig) { c.MaxEntries = -1 }, []string{"b[0].max_entries"}},
		{"min_ratio above 1", false, func(c *ListConfig) { r := 1.5; c.MinRatio = &r }, []string{"b[0].min_ratio"}},
		{"headers on a file", false, func(c *ListConfig) { c.Headers = map[string]string{"X-A": "b"} }, []string{"b[0].headers"}},
		{"bad headers", false, func(c *ListConfig) {
			c.Source = "https://x.example/z"
			c.Headers = map[string]string{"Bad Name": "x", "User-Agent": "curl", "X-Env": "${1BAD}", "X-Open": "${KEY", "X-File": "file:"}
		}, []string{"b[0].headers.Bad Name", "b[0].headers.User-Agent", "b[0].headers.X-Env", "b[0].headers.X-File", "b[0].headers.X-Open"}},
		{"unknown format", false, func(c *ListConfig) { c.Format = "csv" }, []string{"b[0].format"}},
		{"rpz", false, func(c *ListConfig) { c.Format = "rpz" }, nil},
		{"adblock allow", true, func(c *ListConfig) { c.Format = "adblock" }, nil},
		{"unknown action", false, func(c *ListConfig) { c.Action = "block" }, []string{"b[0].action"}},
		{"action on allow", true, func(c *ListConfig) { c.Action = "nxdomain" }, []string{"b[0].action"}},
		{"negative refresh", false, func(c *ListConfig) { c.Refresh = -1 }, []string{"b[0].refresh"}},
		{"sinkhole without addrs", false, func(c *ListConfig) { c.Action = "sinkhole" }, []string{"b[0].sinkhole"}},
		{"addrs without sinkhole", false, func(c *ListConfig) { c.Sinkhole = []string{"192.0.2.1"} }, []string{"b[0].sinkhole"}},
		{"addrs on allow", true, func(c *ListConfig) { c.Sinkhole = []string{"192.0.2.1"} }, []string{"b[0].sinkhole"}},
		{"bad addrs", false, func(c *ListConfig) {
			c.Action, c.Sinkhole = "sinkhole", []string{"192.0.2.1", "block.example", "fe80::1%eth0"}
		}, []string{"b[0].sinkhole[1]", "b[0].sinkhole[2]"}},
		{"axfr", false, func(c *ListConfig) {
			c.Source, c.Primaries, c.OnExpire = "axfr://192.0.2.1/rpz.example", []string{"192.0.2.2:5353", "[2001:db8::3]:53", "2001:db8::4"}, "drop"
			c.TSIG = &TSIGConfig{Name: "k", Algorithm: "hmac-sha512", Secret: "n8cpbB5+gbuRjSDUPbKt7LvPY3f1W3ZmzAx5prGzjbA="}
		}, nil},
		{"axfr ipv6 port", false, func(c *ListConfig) { c.Source = "axfr://[2001:db8::1]:5300/rpz.example." }, nil},
		{"axfr no zone", false, func(c *ListConfig) { c.Source = "axfr://192.0.2.1" }, []string{"b[0].source"}},
		{"axfr host name", false, func(c *ListConfig) { c.Source = "axfr://ns.example/rpz.example" }, []string{"b[0].source"}},
		{"axfr bad port", false, func(c *ListConfig) { c.Source = "axfr://192.0.2.1:0/rpz.example" }, []string{"b[0].source"}},
		{"axfr format", false, func(c *ListConfig) { c.Source, c.Format = "axfr://192.0.2.1/rpz.example", "hosts" }, []string{"b[0].format"}},
		{"axfr bad keys", false, func(c *ListConfig) {
			c.Source, c.Primaries, c.OnExpire = "axfr://192.0.2.1/rpz.example", []string{"ns.example"}, "forget"
			c.TSIG = &TSIGConfig{Algorithm: "hmac-md5", Secret: "c2hvcnQ="}
		}, []string{"b[0].on_expire", "b[0].primaries[0]", "b[0].tsig.name", "b[0].tsig.algorithm", "b[0].tsig.secret"}},
		{"axfr two secrets", false, func(c *ListConfig) {
			c.Source, c.TSIG = "axfr://192.0.2.1/rpz.example", &TSIGConfig{Name: "k", Secret: "x", SecretFile: "k.key"}
		}, []string{"b[0].tsig.secret"}},
		{"axfr keys elsewhere", false, func(c *ListConfig) {
			c.Primaries, c.OnExpire, c.TSIG = []string{"192.0.2.2"}, "keep", &TSIGConfig{Name: "k", Secret: "x"}
		}, []string{"b[0].primaries", "b[0].tsig", "b[0].on_expire"}},
		{"override and trial", false, func(c *ListConfig) { c.ActionOverride, c.LogOnly = "passthru", true }, nil},
		{"override sinkhole", false, func(c *ListConfig) { c.ActionOverride, c.Sinkhole = "sinkhole", []string{"192.0.2.1"} }, nil},
		{"bad override", false, func(c *ListConfig) { c.ActionOverride = "cname" }, []string{"b[0].action_override"}},
		{"override on allow", true, func(c *ListConfig) { c.ActionOverride, c.LogOnly = "drop", true }, []string{"b[0].action_override", "b[0].log_only"}},
		{"many at once", false, func(c *ListConfig) { c.Name, c.Source, c.Format, c.Action = "", "", "x", "y" },
			[]string{"b[0].name", "b[0].source", "b[0].format", "b[0].action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			errs := c.Validate("b[0]", tt.allow)
			if got := paths(t, errs); !slices.Equal(got, tt.paths) {
				t.Errorf("paths = %q, want %q; errors: %v", got, tt.paths, errs)
			}
		})
	}
}

func TestValidateLists(t *testing.T) {
	l := func(name string) ListConfig { return ListConfig{Name: name, Source: "file:x"} }
	tests := []struct {
		name          string
		blocks, allow []ListConfig
		paths         []string
	}{
		{"none", nil, nil, nil},
		{"distinct", []ListConfig{l("a"), l("b")}, []ListConfig{l("c")}, nil},
		{"dup in blocks", []ListConfig{l("a"), l("a")}, nil, []string{"blocklists[1].name"}},
		{"dup across", []ListConfig{l("a")}, []ListConfig{l("b"), l("a")}, []string{"allowlists[1].name"}},
		{"empty and invalid", []ListConfig{l("")}, []ListConfig{{Name: "x", Source: "file:x", Action: "drop"}},
			[]string{"blocklists[0].name", "allowlists[0].action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateLists(tt.blocks, tt.allow)
			if got := paths(t, errs); !slices.Equal(got, tt.paths) {
				t.Errorf("paths = %q, want %q; errors: %v", got, tt.paths, errs)
			}
		})
	}
	errs := ValidateLists([]ListConfig{l("a")}, []ListConfig{l("a")})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "blocklists[0].name") {
		t.Errorf("duplicate error should point at the first use: %v", errs)
	}
}

// paths returns the cfgerr paths of errs, failing on any other error type.
func paths(t *testing.T, errs []error) []string {
	t.Helper()
	var out []string
	for _, err := range errs {
		var ce *cfgerr.Error
		if !errors.As(err, &ce) {
			t.Errorf("%v is %T, want *cfgerr.Error", err, err)
			continue
		}
		out = append(out, ce.Path)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	ratio := func(r float64) *float64 { return &r }
	tests := []struct {
		name  string
		edit  func(c *Config)
		paths []string
	}{
		{"defaults", func(c *Config) {}, nil},
		{"serve-cached", func(c *Config) { c.Startup, c.CacheDir = StartupServeCached, "/var/cache/bulwark" }, nil},
		{"min_ratio 0", func(c *Config) { c.MinRatio = ratio(0) }, nil},
		{"unknown startup", func(c *Config) { c.Startup = "later" }, []string{"feeds.startup"}},
		{"refresh too often", func(c *Config) { c.Refresh = 10e9 }, []string{"feeds.refresh"}},
		{"retry too short", func(c *Config) { c.Retry = 1e6 }, []string{"feeds.retry"}},
		{"negatives", func(c *Config) { c.StartupTimeout, c.Timeout, c.MaxSize = -1, -1, -1 },
			[]string{"feeds.startup_timeout", "feeds.timeout", "feeds.max_size"}},
		{"min_ratio negative", func(c *Config) { c.MinRatio = ratio(-0.1) }, []string{"feeds.min_ratio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			tt.edit(&c)
			c.SetDefaults()
			if got := paths(t, c.Validate("feeds")); !slices.Equal(got, tt.paths) {
				t.Errorf("paths = %q, want %q", got, tt.paths)
			}
		})
	}
	var c Config
	c.SetDefaults()
	if c.Startup != StartupWait || c.Refresh != DefaultRefresh || c.Timeout != DefaultTimeout || c.MaxSize != DefaultMaxSize ||
		*c.MinRatio != DefaultMinRatio || c.Retry != DefaultRetry || c.StartupTimeout != DefaultStartupTimeout || c.CacheDir != "" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"64MiB", 64 << 20, true},
		{"64 mib", 64 << 20, true},
		{"1.5GiB", 3 << 29, true},
		{"500MB", 500e6, true},
		{"512K", 512 << 10, true},
		{"10B", 10, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"lots", 0, false},
		{"1e30", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	var cfg struct {
		Size  ByteSize `yaml:"size"`
		Plain ByteSize `yaml:"plain"`
	}
	if err := yaml.Unmarshal([]byte("size: 2MiB\nplain: 100\n"), &cfg); err != nil || cfg.Size != 2<<20 || cfg.Plain != 100 {
		t.Errorf("yaml = %+v, %v", cfg, err)
	}
	err := yaml.Unmarshal([]byte("size: 2MiB\nplain: big\n"), &cfg)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), `"big" is not a size`) {
		t.Errorf("yaml error = %v", err)
	}
	if s := ByteSize(256 << 20).String(); s != "256MiB" {
		t.Errorf("String = %q", s)
	}
}
