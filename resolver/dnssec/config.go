package dnssec

import (
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
	"github.com/miekg/dns"
)

// Defaults, after Unbound (val-bogus-ttl 60) and the NSEC3 iteration limit
// BIND and Knot Resolver apply as RFC 9276 §3.2 advises.
const (
	DefaultBogusTTL           = 60 * time.Second
	DefaultNSEC3MaxIterations = 150
	// DefaultKeyCacheSize is how many zones' keys (and delegation facts)
	// the validator remembers.
	DefaultKeyCacheSize = 10000
)

// OverrideDateLayout is the form of override_date (UTC), as Unbound's
// val-override-date.
const OverrideDateLayout = "20060102150405"

// Config is the `dnssec:` YAML section.
type Config struct {
	// On (key validate) turns validation on. nil (absent) means: on in recursive
	// mode, off in forwarding mode (the upstream is then trusted, as
	// before); see Enabled.
	On *bool `yaml:"validate"`
	// TrustAnchorFile holds DS or DNSKEY records in zone-file form. Anchors
	// for the root replace the built-in root anchors; others are added.
	TrustAnchorFile string `yaml:"trust_anchor_file"`
	// NegativeTrustAnchors are zones known to be broken (RFC 7646): data
	// at or below them is treated as insecure instead of bogus.
	NegativeTrustAnchors []string `yaml:"negative_trust_anchors"`
	// OverrideDate validates signatures as of this time (YYYYMMDDHHMMSS,
	// UTC) instead of now: for tests against fixed signed data only.
	OverrideDate string `yaml:"override_date"`
	// BogusTTL is how long a bogus answer is remembered and answered with
	// SERVFAIL without validating again.
	BogusTTL time.Duration `yaml:"bogus_ttl"`
	// NSEC3MaxIterations: NSEC3 proofs with more iterations are not
	// checked and make the answer insecure, with EDE 27 (RFC 9276).
	NSEC3MaxIterations int `yaml:"nsec3_max_iterations"`
	// AllowSHA1 validates RSASHA1 and RSASHA1-NSEC3-SHA1 (algorithms 5
	// and 7) and SHA-1 DS digests; false treats zones that rely on them
	// as insecure (RFC 6840 §5.2), as some distributions' crypto policies
	// do. nil means true: RFC 8624 still requires validating them.
	AllowSHA1 *bool `yaml:"allow_sha1"`
	// KeyCacheSize bounds the zones whose validated keys are remembered.
	KeyCacheSize int `yaml:"key_cache_size"`
	// AggressiveNSEC answers NXDOMAIN from the NSEC records of earlier
	// validated NXDOMAIN answers, without asking (RFC 8198; Unbound's
	// aggressive-nsec). nil means true.
	AggressiveNSEC *bool `yaml:"aggressive_nsec"`

	decoded bool
}

// Aggressive reports whether aggressive_nsec is on (the default).
func (c *Config) Aggressive() bool { return c.AggressiveNSEC == nil || *c.AggressiveNSEC }

// DefaultConfig is the section as used when it is absent.
func DefaultConfig() Config {
	return Config{BogusTTL: DefaultBogusTTL, NSEC3MaxIterations: DefaultNSEC3MaxIterations, KeyCacheSize: DefaultKeyCacheSize}
}

// SetDefaults fills zero fields of a Config built in code from
// DefaultConfig; one decoded from YAML already has them.
func (c *Config) SetDefaults() {
	if c.decoded {
		return
	}
	yamlx.Defaults(c, DefaultConfig())
}

// UnmarshalYAML decodes on top of the defaults, rejecting unknown keys.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	type plain Config
	p := plain(DefaultConfig())
	if err := yamlx.DecodeStrict(n, &p, "dnssec.Config"); err != nil {
		return err
	}
	*c = Config(p)
	c.decoded = true
	return nil
}

// Enabled reports whether validation is on: as set, or by default in
// recursive mode only.
func (c *Config) Enabled(recursive bool) bool {
	if c.On == nil {
		return recursive
	}
	return *c.On
}

func (c *Config) allowSHA1() bool { return c.AllowSHA1 == nil || *c.AllowSHA1 }

// overrideTime is OverrideDate parsed; zero when unset.
func (c *Config) overrideTime() (time.Time, error) {
	if c.OverrideDate == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(OverrideDateLayout, c.OverrideDate, time.UTC)
}

// Validate reports every invalid value, located under path ("dnssec").
func (c *Config) Validate(path string) []error {
	var errs []error
	if c.TrustAnchorFile != "" {
		if _, err := readAnchorFile(c.TrustAnchorFile); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "trust_anchor_file"), "%v", err))
		}
	}
	for i, n := range c.NegativeTrustAnchors {
		if _, ok := dns.IsDomainName(n); !ok || n == "" {
			errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "negative_trust_anchors"), i), "%q is not a domain name", n))
		}
	}
	if _, err := c.overrideTime(); err != nil {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "override_date"), "must be YYYYMMDDHHMMSS (UTC), got %q", c.OverrideDate))
	}
	if c.BogusTTL < 0 || c.BogusTTL%time.Second != 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "bogus_ttl"), "must be whole seconds, not negative, got %s", c.BogusTTL))
	}
	if c.NSEC3MaxIterations < 0 || c.NSEC3MaxIterations > 65535 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "nsec3_max_iterations"), "must be 0..65535, got %d", c.NSEC3MaxIterations))
	}
	if c.KeyCacheSize < 1 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "key_cache_size"), "must be at least 1, got %d", c.KeyCacheSize))
	}
	return errs
}

// readAnchorFile reads DS and DNSKEY records (zone-file syntax) from file.
func readAnchorFile(file string) ([]dns.RR, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []dns.RR
	zp := dns.NewZoneParser(f, ".", file)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch r := rr.(type) {
		case *dns.DS:
			if _, err := hex.DecodeString(r.Digest); err != nil || r.Digest == "" {
				return nil, fmt.Errorf("%s: DS for %s: digest %q is not hexadecimal", file, r.Hdr.Name, r.Digest)
			}
			out = append(out, rr)
		case *dns.DNSKEY:
			out = append(out, rr)
		default:
			return nil, fmt.Errorf("%s: %s record for %s: only DS and DNSKEY records are trust anchors",
				file, dns.TypeToString[rr.Header().Rrtype], rr.Header().Name)
		}
	}
	if err := zp.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no DS or DNSKEY record", file)
	}
	return out, nil
}
