package cache

import (
	"github.com/bulwark-dns/bulwark/internal/yamlx"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"gopkg.in/yaml.v3"
)

// Defaults, chosen after Unbound and CoreDNS so operators meet no surprises.
const (
	DefaultSize        = 100000
	DefaultMaxTTL      = 24 * time.Hour
	DefaultNegativeTTL = time.Hour
	DefaultServfailTTL = 5 * time.Second
	// DefaultStaleMax matches Unbound's serve-expired-ttl: a day of upstream
	// outage is survivable for names clients already used.
	DefaultStaleMax = 24 * time.Hour
	// DefaultMaxBytes holds the default 100,000 entries of typical size
	// (an answer of a few records takes 150-300 bytes with its key and
	// index), so that for ordinary traffic the entry count stays the bound,
	// while answers made large on purpose (31 KB TXT sets) cannot take
	// gigabytes: 32 MiB is about a thousand of those.
	DefaultMaxBytes = 32 << 20
	// DefaultMaxEntryBytes admits every answer a UDP client can receive
	// (and the large TXT and DNSKEY sets real zones have), and keeps out
	// the tens of kilobytes only a TCP answer built to fill a cache has.
	DefaultMaxEntryBytes = 16 << 10
)

// maxEntryLimit is the largest max_entry_bytes: a DNS message is at most
// 64 KiB, and the record keeps a name and a few counters beside it.
const maxEntryLimit = 0xffff + 1024

// maxTTL is the largest TTL RFC 2181 §8 allows.
const maxTTL = (1<<31 - 1) * time.Second

// Config is the `cache:` YAML section.
//
// A section decoded from YAML starts from the defaults, so an explicit
// `size: 0`, `prefetch: false` or `stale_max: 0` is kept; SetDefaults only
// fills the zero fields of a Config that was not decoded.
type Config struct {
	// Size bounds the cache in entries; 0 disables caching (pass-through).
	Size int `yaml:"size"`
	// MaxBytes bounds the cache in bytes: answers in wire form, their keys
	// and a fixed index cost per entry (the bulwark_cache_bytes gauge).
	// The least recently used entries go when either bound is reached.
	MaxBytes int `yaml:"max_bytes"`
	// MaxEntryBytes is the largest entry cached; larger answers are passed
	// on and not kept.
	MaxEntryBytes int `yaml:"max_entry_bytes"`
	// MinTTL raises short TTLs of positive answers (negative answers keep
	// theirs: their TTL is the zone owner's statement about absence).
	MinTTL time.Duration `yaml:"min_ttl"`
	// MaxTTL caps TTLs of positive answers.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// NegativeTTL caps the RFC 2308 negative TTL; 0 disables negative caching.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// ServfailTTL is how long a SERVFAIL is cached (RFC 2308 §7); 0 disables.
	ServfailTTL time.Duration `yaml:"servfail_ttl"`
	// Prefetch refreshes popular entries before they expire; nil means true.
	Prefetch *bool `yaml:"prefetch"`
	// StaleMax is how long past expiry an entry may still be served when
	// the next step fails (RFC 8767); 0 disables serve-stale.
	StaleMax time.Duration `yaml:"stale_max"`

	decoded bool // set by UnmarshalYAML: defaults already applied
}

// DefaultConfig returns the configuration used when the section is absent.
func DefaultConfig() Config {
	return Config{
		Size:          DefaultSize,
		MaxTTL:        DefaultMaxTTL,
		MaxBytes:      DefaultMaxBytes,
		MaxEntryBytes: DefaultMaxEntryBytes,
		NegativeTTL:   DefaultNegativeTTL,
		ServfailTTL:   DefaultServfailTTL,
		Prefetch:      new(true),
		StaleMax:      DefaultStaleMax,
	}
}

// SetDefaults fills the zero fields of a Config built in code from
// DefaultConfig. It leaves a Config decoded from YAML alone, because there a
// zero was written on purpose.
func (c *Config) SetDefaults() {
	if c.decoded {
		return
	}
	yamlx.Defaults(c, DefaultConfig())
}

// prefetch reports whether prefetch is on (nil means the default, true).
func (c *Config) prefetch() bool { return c.Prefetch == nil || *c.Prefetch }

// UnmarshalYAML decodes the section on top of the defaults, so that keys the
// operator left out get defaults and keys written as zero stay zero. It
// rejects unknown keys itself because a custom unmarshaler does not inherit
// the root decoder's strictness.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	type plain Config // no methods: avoids recursing into UnmarshalYAML
	p := plain(DefaultConfig())
	if err := yamlx.DecodeStrict(n, &p, "cache.Config"); err != nil {
		return err
	}
	*c = Config(p)
	c.decoded = true
	return nil
}

// Validate reports every invalid value, located under path (e.g. "cache").
func (c *Config) Validate(path string) []error {
	var errs []error
	if c.Size < 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "size"), "must be 0 (cache off) or a number of entries, got %d", c.Size))
	}
	durs := []struct {
		key string
		d   time.Duration
	}{
		{"min_ttl", c.MinTTL}, {"max_ttl", c.MaxTTL}, {"negative_ttl", c.NegativeTTL},
		{"servfail_ttl", c.ServfailTTL}, {"stale_max", c.StaleMax},
	}
	for _, f := range durs {
		p := cfgerr.Join(path, f.key)
		switch {
		case f.d < 0:
			errs = append(errs, cfgerr.New(p, "must not be negative, got %s", f.d))
		case f.d%time.Second != 0:
			errs = append(errs, cfgerr.New(p, "must be whole seconds (DNS TTLs are), got %s", f.d))
		case f.d > maxTTL && f.key != "stale_max":
			errs = append(errs, cfgerr.New(p, "must be at most %s (RFC 2181), got %s", maxTTL, f.d))
		}
	}
	if c.Size > 0 && c.MaxTTL == 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "max_ttl"), "must be positive (to turn the cache off, set size: 0)"))
	}
	if c.Size > 0 {
		switch {
		case c.MaxEntryBytes < 512 || c.MaxEntryBytes > maxEntryLimit:
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "max_entry_bytes"), "must be between 512 and %d bytes, got %d", maxEntryLimit, c.MaxEntryBytes))
		case c.MaxBytes < c.MaxEntryBytes+slotOverhead:
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "max_bytes"), "must hold at least one entry of max_entry_bytes (%d), got %d (to turn the cache off, set size: 0)", c.MaxEntryBytes, c.MaxBytes))
		}
	}
	if c.MinTTL > c.MaxTTL && c.MaxTTL > 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "min_ttl"), "must not exceed max_ttl (%s), got %s", c.MaxTTL, c.MinTTL))
	}
	return errs
}
