package cache

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		name    string
		yaml    string
		check   func(Config) bool
		wantErr string
	}{
		{"empty section gets defaults", "cache: {}", func(c Config) bool {
			return c.Size == DefaultSize && c.MaxTTL == DefaultMaxTTL && c.NegativeTTL == DefaultNegativeTTL &&
				c.ServfailTTL == DefaultServfailTTL && c.StaleMax == DefaultStaleMax && c.prefetch()
		}, ""},
		{"absent section gets defaults after SetDefaults", "other: 1", func(c Config) bool {
			return c.Size == DefaultSize && c.prefetch() && c.StaleMax == DefaultStaleMax
		}, ""},
		{"explicit zeros kept", "cache: {size: 0, prefetch: false, stale_max: 0s, servfail_ttl: 0s}", func(c Config) bool {
			return c.Size == 0 && !c.prefetch() && c.StaleMax == 0 && c.ServfailTTL == 0 && c.MaxTTL == def.MaxTTL
		}, ""},
		{"values", "cache: {size: 5000, min_ttl: 30s, max_ttl: 1h, negative_ttl: 5m}", func(c Config) bool {
			return c.Size == 5000 && c.MinTTL == 30*time.Second && c.MaxTTL == time.Hour && c.NegativeTTL == 5*time.Minute
		}, ""},
		{"byte bounds", "cache: {max_bytes: 1048576, max_entry_bytes: 4096}", func(c Config) bool {
			return c.MaxBytes == 1<<20 && c.MaxEntryBytes == 4096
		}, ""},
		{"byte bounds default", "cache: {size: 10}", func(c Config) bool {
			return c.MaxBytes == DefaultMaxBytes && c.MaxEntryBytes == DefaultMaxEntryBytes
		}, ""},
		{"unknown key", "cache:\n  size: 1\n  max_tll: 1h\n", nil, "line 3: field max_tll not found"},
		{"bad duration", "cache: {max_ttl: soon}", nil, "soon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var root struct {
				Cache Config `yaml:"cache"`
				Other int    `yaml:"other"`
			}
			dec := yaml.NewDecoder(strings.NewReader(tt.yaml))
			dec.KnownFields(true)
			err := dec.Decode(&root)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			root.Cache.SetDefaults() // the loader may call it after decoding
			if !tt.check(root.Cache) {
				t.Fatalf("decoded %+v", root.Cache)
			}
			if errs := root.Cache.Validate("cache"); len(errs) != 0 {
				t.Fatalf("Validate: %v", errs)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		paths []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"negative size", func(c *Config) { c.Size = -1 }, []string{"cache.size"}},
		{"negative durations", func(c *Config) { c.MinTTL, c.StaleMax = -time.Second, -time.Second }, []string{"cache.min_ttl", "cache.stale_max"}},
		{"sub-second", func(c *Config) { c.ServfailTTL = 1500 * time.Millisecond }, []string{"cache.servfail_ttl"}},
		{"min above max", func(c *Config) { c.MinTTL, c.MaxTTL = 2*time.Hour, time.Hour }, []string{"cache.min_ttl"}},
		{"max zero", func(c *Config) { c.MaxTTL = 0 }, []string{"cache.max_ttl"}},
		{"beyond RFC 2181", func(c *Config) { c.MaxTTL = 1 << 32 * time.Second }, []string{"cache.max_ttl"}},
		{"max zero with cache off is fine", func(c *Config) { c.MaxTTL, c.Size = 0, 0 }, nil},
		{"max_bytes zero", func(c *Config) { c.MaxBytes = 0 }, []string{"cache.max_bytes"}},
		{"max_bytes below one entry", func(c *Config) { c.MaxBytes, c.MaxEntryBytes = 4000, 4096 }, []string{"cache.max_bytes"}},
		{"max_entry_bytes tiny", func(c *Config) { c.MaxEntryBytes = 100 }, []string{"cache.max_entry_bytes"}},
		{"max_entry_bytes beyond a message", func(c *Config) { c.MaxEntryBytes = 1 << 20 }, []string{"cache.max_entry_bytes"}},
		{"byte bounds ignored with cache off", func(c *Config) { c.Size, c.MaxBytes = 0, 0 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if got := cfgerr.Paths(c.Validate("cache")); !slices.Equal(got, tt.paths) {
				t.Fatalf("error paths %v, want %v", got, tt.paths)
			}
		})
	}
}

func TestSetDefaultsKeepsSetFields(t *testing.T) {
	off := false
	c := Config{Size: 10, MinTTL: time.Minute, Prefetch: &off}
	c.SetDefaults()
	if c.Size != 10 || c.MinTTL != time.Minute || c.prefetch() || c.MaxTTL != DefaultMaxTTL {
		t.Fatalf("SetDefaults changed set fields: %+v", c)
	}
}
