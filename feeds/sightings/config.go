package sightings

import (
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
)

// Config is the `sightings:` section: where blocks of threat-intelligence
// indicators are reported, and as whom.
type Config struct {
	// Interval is how often the blocks counted since the last report are
	// sent (default 15m).
	Interval time.Duration `yaml:"interval"`
	// Identity is the STIX identity id of the operator
	// ("identity--<uuid>"): each sighting's created_by_ref and, unless a
	// tenant matches, its where_sighted_refs.
	Identity string `yaml:"identity"`
	// Tenants report the blocks of their clients as sighted by their own
	// identity (the first tenant whose prefixes hold the client).
	Tenants []TenantConfig `yaml:"tenants"`
	// TAXII posts each report to a TAXII 2.1 collection.
	TAXII *TAXIIConfig `yaml:"taxii"`
	// Dir writes each report as a STIX bundle file into a directory.
	Dir string `yaml:"dir"`
	// MaxFiles bounds the bundle files kept in Dir; the oldest go first
	// (default 1000).
	MaxFiles int `yaml:"max_files"`
	// MISPSource is the "source" of MISP sightings (default "bulwark").
	// MISP sightings go to the lists with misp.sightings set.
	MISPSource string `yaml:"misp_source"`
	// IncludeClients adds the addresses of the clients whose queries were
	// blocked (at most 100 per sighting, as x_bulwark_client_addresses).
	// Off by default: no client address leaves unless this is set.
	IncludeClients bool `yaml:"include_clients"`
	// MaxIndicators bounds the indicators counted per interval (default
	// 10000); blocks of further indicators are dropped and counted.
	MaxIndicators int `yaml:"max_indicators"`
	// Retries is how many times a failed send is tried again within one
	// interval (default 3); MaxPending how many sightings per destination
	// wait for the next interval when they all fail (default 100000).
	Retries    int `yaml:"retries"`
	MaxPending int `yaml:"max_pending"`
	// Timeout bounds one request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// TenantConfig is one tenant's identity and client prefixes.
type TenantConfig struct {
	Identity string   `yaml:"identity"`
	Clients  []string `yaml:"clients"`
}

// TAXIIConfig is the collection sightings are posted to.
type TAXIIConfig struct {
	// Collection is the collection's URL (".../collections/ID/").
	Collection string `yaml:"collection"`
	// Username and Password (basic) or Token (bearer); each may be
	// "${NAME}" or "file:PATH".
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
}

// Defaults.
const (
	DefaultInterval      = 15 * time.Minute
	DefaultMaxIndicators = 10000
	DefaultRetries       = 3
	DefaultMaxPending    = 100000
	DefaultMaxFiles      = 1000
	DefaultTimeout       = 30 * time.Second
	DefaultMISPSource    = "bulwark"
)

// SetDefaults fills unset values.
func (c *Config) SetDefaults() {
	yamlx.Defaults(c, Config{
		Interval:      DefaultInterval,
		MaxIndicators: DefaultMaxIndicators,
		Retries:       DefaultRetries,
		MaxPending:    DefaultMaxPending,
		MaxFiles:      DefaultMaxFiles,
		Timeout:       DefaultTimeout,
		MISPSource:    DefaultMISPSource,
	})
}

// Enabled reports whether a STIX destination is configured (MISP
// sightings are turned on per list).
func (c *Config) Enabled() bool { return c.TAXII != nil || c.Dir != "" }

// Validate returns every problem with the section (after SetDefaults).
// lists are the block lists, for MISP sightings, which need an identity
// only for STIX.
func (c *Config) Validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	if c.Interval < time.Second {
		add("interval", "%s is too short; use at least 1s (15m is usual)", c.Interval)
	}
	if c.Enabled() && c.Identity == "" {
		add("identity", `STIX sightings need the operator's identity id ("identity--<uuid>")`)
	}
	if c.Identity != "" && !stixID(c.Identity, "identity") {
		add("identity", `%q is not a STIX identity id ("identity--<uuid>")`, c.Identity)
	}
	for i, t := range c.Tenants {
		p := cfgerr.Index(cfgerr.Join(path, "tenants"), i)
		if !stixID(t.Identity, "identity") {
			errs = append(errs, cfgerr.New(cfgerr.Join(p, "identity"), `%q is not a STIX identity id ("identity--<uuid>")`, t.Identity))
		}
		if len(t.Clients) == 0 {
			errs = append(errs, cfgerr.New(cfgerr.Join(p, "clients"), "needs at least one address prefix"))
		}
		for j, s := range t.Clients {
			if _, err := parseClient(s); err != nil {
				errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(p, "clients"), j), "%q is not an address or prefix", s))
			}
		}
	}
	if t := c.TAXII; t != nil {
		u, err := url.Parse(t.Collection)
		switch {
		case t.Collection == "":
			add("taxii.collection", "needs the collection's URL (.../collections/ID/)")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			add("taxii.collection", "%q is not an http(s) URL", t.Collection)
		}
		if t.Token != "" && (t.Username != "" || t.Password != "") {
			add("taxii.token", "use either a bearer token or username and password, not both")
		}
		if (t.Username == "") != (t.Password == "") {
			add("taxii.password", "basic authentication needs both username and password")
		}
		for k, v := range map[string]string{"username": t.Username, "password": t.Password, "token": t.Token} {
			if v != "" {
				if err := feeds.CheckSecret(v); err != nil {
					add("taxii."+k, "%v", err)
				}
			}
		}
	}
	for k, v := range map[string]int{"max_indicators": c.MaxIndicators, "retries": c.Retries, "max_pending": c.MaxPending, "max_files": c.MaxFiles} {
		if v < 0 {
			add(k, "must not be negative (got %d)", v)
		}
	}
	if c.Timeout < 0 {
		add("timeout", "must not be negative (got %s)", c.Timeout)
	}
	return errs
}

// stixID checks "TYPE--<uuid>".
func stixID(s, typ string) bool {
	rest, ok := strings.CutPrefix(s, typ+"--")
	return ok && len(rest) == 36 && strings.Count(rest, "-") == 4
}

// parseClient parses an address or prefix.
func parseClient(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
