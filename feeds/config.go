package feeds

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
)

// ListConfig is one entry of `blocklists:` or `allowlists:` in the YAML config.
type ListConfig struct {
	Name string `yaml:"name"`
	// Source is "file:PATH" (relative paths resolve against the config
	// file's directory), "builtin:NAME" (a list bundled in the binary) or
	// an "http://" / "https://" URL.
	Source string `yaml:"source"`
	// Format is auto (the default), domains, hosts, adblock or rpz.
	Format string `yaml:"format"`
	// Action is the block answer: nxdomain (the default), nodata, null,
	// sinkhole, refused or drop. It must be empty for allow lists. RPZ
	// rules carry their own action, which wins.
	Action string `yaml:"action"`
	// Category is free text for logs and metrics, e.g. phishing; it
	// defaults to the list name.
	Category string `yaml:"category"`
	// Refresh is how often the list is checked for a new copy; 0 means
	// feeds.refresh. Builtin lists never change and are not refreshed.
	Refresh time.Duration `yaml:"refresh"`
	// Sinkhole holds the addresses answered for action sinkhole (at least
	// one, IPv4 and/or IPv6); it is not allowed with any other action.
	Sinkhole []string `yaml:"sinkhole"`
	// Timeout bounds one download and parse; 0 means feeds.timeout.
	Timeout time.Duration `yaml:"timeout"`
	// MaxSize bounds the list's size, compressed and uncompressed; 0 means
	// feeds.max_size.
	MaxSize ByteSize `yaml:"max_size"`
	// MaxEntries refuses a copy with more entries than this, so that a
	// feed that balloons (a provider's mistake, or a hostile mirror)
	// cannot take the memory of the whole resolver; 0 means
	// feeds.max_entries.
	MaxEntries int `yaml:"max_entries"`
	// MinRatio rejects a new copy with fewer than MinRatio times the
	// entries of the last good one (a truncated or emptied feed); unset
	// means feeds.min_ratio, 0 accepts any copy.
	MinRatio *float64 `yaml:"min_ratio"`
	// Headers are sent with every HTTP request, e.g. an API key. A value
	// may use ${NAME} for an environment variable, or be "file:PATH" to
	// read a file (a mounted secret); values are never logged.
	Headers map[string]string `yaml:"headers"`
	// Threat-intelligence sources (intelconfig.go): taxii makes an http(s)
	// source a TAXII 2.1 server, misp configures a MISP feed or API
	// source, tag_categories maps indicator tags to categories.
	TAXII         *TAXIIConfig      `yaml:"taxii"`
	MISP          *MISPConfig       `yaml:"misp"`
	TagCategories map[string]string `yaml:"tag_categories"`
	// Primaries, TSIG and OnExpire configure an "axfr://" source (see
	// xfrconfig.go).
	Primaries []string    `yaml:"primaries"`
	TSIG      *TSIGConfig `yaml:"tsig"`
	OnExpire  string      `yaml:"on_expire"`
	// ActionOverride forces every block rule of the list to one action
	// (nxdomain, nodata, null, sinkhole, refused, drop), whatever the
	// rules say, as Unbound's rpz-action-override and PowerDNS's defpol;
	// passthru makes every rule an exception of the list. LogOnly puts the
	// list on trial: what it would block is logged and counted, nothing is
	// blocked (policy.go).
	ActionOverride string `yaml:"action_override"`
	LogOnly        bool   `yaml:"log_only"`
	// AllowBroad accepts rules that cover a whole top-level domain or
	// public suffix ("com", "*.co.uk"); without it such a line is rejected
	// (trust.go), so that a careless or compromised feed cannot block, or
	// allow, a whole TLD.
	AllowBroad bool `yaml:"allow_broad"`
}

// maxLists is how many lists fit in blocklist.Payload.List.
const maxLists = math.MaxUint16 + 1

// Minimum refresh intervals: a feed provider sees every fleet member's
// polls, and many ban clients that poll more often than every few minutes.
const (
	minRemoteRefresh = time.Minute
	minLocalRefresh  = time.Second
)

// reservedHeaders are set by Bulwark itself: the User-Agent names Bulwark
// and its version, and the others drive gzip and conditional requests.
var reservedHeaders = []string{"User-Agent", "Accept-Encoding", "If-None-Match", "If-Modified-Since", "Host", "Content-Length", "Connection", "Transfer-Encoding"}

// Validate returns every problem with c, each a *cfgerr.Error whose Path is
// path + ".field", e.g. "blocklists[2].action". allow says whether c is an
// allow list. Whether the source can be read is the loader's business.
func (c *ListConfig) Validate(path string, allow bool) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	switch {
	case c.Name == "":
		add("name", "must not be empty")
	case strings.TrimSpace(c.Name) != c.Name:
		add("name", "%q has leading or trailing spaces", c.Name)
	default:
		if err := checkListName(c.Name); err != nil {
			add("name", "%v", err)
		}
	}
	scheme, _, err := splitSource(c.Source)
	if err != nil {
		add("source", "%v", err)
	}
	remote := scheme == schemeHTTP || scheme == schemeHTTPS
	switch c.Format {
	case "", FormatAuto, FormatDomains, FormatHosts, FormatAdblock, FormatRPZ, FormatSTIX, FormatMISP:
	default:
		add("format", "unknown format %q; use auto, domains, hosts, adblock, rpz, stix or misp", c.Format)
	}
	errs = append(errs, c.validateIntel(path, scheme, allow)...)
	action, actionOK := blocklist.ActionNXDomain, true
	switch {
	case allow && c.Action != "":
		add("action", "allow lists take no action (got %q); remove the key", c.Action)
	case c.Action != "":
		a, ok := blocklist.ParseAction(c.Action)
		if actionOK = ok; !ok {
			add("action", "unknown action %q; use nxdomain, nodata, null, sinkhole, refused or drop", c.Action)
		}
		action = a
	}
	switch {
	case c.Refresh < 0:
		add("refresh", "must not be negative (got %s)", c.Refresh)
	case c.Refresh > 0 && remote && c.Refresh < minRemoteRefresh:
		add("refresh", "%s is too often for an HTTP feed; use at least %s", c.Refresh, minRemoteRefresh)
	case c.Refresh > 0 && c.Refresh < minLocalRefresh:
		add("refresh", "%s is too short; use at least %s", c.Refresh, minLocalRefresh)
	}
	if a, ok := blocklist.ParseAction(c.ActionOverride); ok && !allow {
		action = a // the override decides the answer (policy.go)
	}
	switch {
	case !allow && action == blocklist.ActionSinkhole && len(c.Sinkhole) == 0:
		add("sinkhole", "action sinkhole needs at least one IP address")
	case allow && len(c.Sinkhole) > 0:
		add("sinkhole", "allow lists take no sinkhole addresses; remove the key")
	case actionOK && action != blocklist.ActionSinkhole && len(c.Sinkhole) > 0:
		add("sinkhole", "only used with action sinkhole (action is %q)", action)
	default:
		for i, s := range c.Sinkhole {
			if _, err := parseSinkhole(s); err != nil {
				errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "sinkhole"), i), "%v", err))
			}
		}
	}
	validateLimits(add, c.Timeout, c.MaxSize, c.MaxEntries, c.MinRatio)
	errs = append(errs, c.validateXfr(path, scheme)...)
	errs = append(errs, c.validatePolicy(path, allow)...)
	if len(c.Headers) > 0 && !remote && err == nil {
		add("headers", "only HTTP sources send headers (source is %q)", c.Source)
	}
	for _, k := range sortedKeys(c.Headers) {
		hp := cfgerr.Join(cfgerr.Join(path, "headers"), k)
		if !httpguts.ValidHeaderFieldName(k) {
			errs = append(errs, cfgerr.New(hp, "%q is not a valid HTTP header name", k))
			continue
		}
		for _, r := range reservedHeaders {
			if strings.EqualFold(k, r) {
				errs = append(errs, cfgerr.New(hp, "%s is set by Bulwark and cannot be configured", r))
			}
		}
		if err := checkHeaderValue(c.Headers[k]); err != nil {
			errs = append(errs, cfgerr.New(hp, "%v", err))
		}
	}
	return errs
}

// maxListName bounds a list name: it names files in cache_dir, metric
// labels and log fields.
const maxListName = 64

// checkListName accepts names that are safe as a file name in cache_dir
// on any system: letters, digits, '.', '_' and '-', starting with a letter
// or digit (so never "." or ".."), at most maxListName long.
func checkListName(name string) error {
	if len(name) > maxListName {
		return fmt.Errorf("%q is %d characters long; use at most %d", name, len(name), maxListName)
	}
	for i, c := range []byte(name) {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%q must start with a letter or digit (it names the list's files in feeds.cache_dir)", name)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%q may only hold letters, digits, '.', '_' and '-' (it names the list's files in feeds.cache_dir)", name)
		}
	}
	return nil
}

// parseSinkhole parses one sinkhole address; a zone makes no sense in an
// answer, so it is refused.
func parseSinkhole(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone, which cannot be answered", s)
	}
	return a.Unmap(), nil
}

// ValidateLists validates both sections at once, because list names must be
// unique across them (logs and metrics name lists, not sections). It
// returns every error found.
func ValidateLists(blocks, allows []ListConfig) []error {
	var errs []error
	seen := cfgerr.Firsts[string]{} // name -> path of its first use
	check := func(section string, lists []ListConfig, allow bool) {
		for i := range lists {
			p := cfgerr.Index(section, i)
			errs = append(errs, lists[i].Validate(p, allow)...)
			name := lists[i].Name
			if name == "" {
				continue
			}
			if first, ok := seen.Claim(name, cfgerr.Join(p, "name")); !ok {
				errs = append(errs, cfgerr.New(cfgerr.Join(p, "name"), "duplicate list name %q (first used at %s)", name, first))
			}
		}
	}
	check("blocklists", blocks, false)
	check("allowlists", allows, true)
	if n := len(blocks) + len(allows); n > maxLists {
		errs = append(errs, cfgerr.New("allowlists", "%d lists configured in blocklists and allowlists together; at most %d are supported", n, maxLists))
	}
	return errs
}

// Startup policies (feeds.startup).
const (
	// StartupWait serves DNS only once every list is loaded, from the
	// network or, when the network fails, from the disk cache.
	StartupWait = "wait"
	// StartupServeCached serves at once with the local lists and whatever
	// the disk cache holds, and fetches the rest in the background;
	// /readyz says 503 until every list is loaded.
	StartupServeCached = "serve-cached"
)

// Config is the `feeds:` section: how lists are fetched, refreshed and
// cached. The per-list keys of the same names override it.
type Config struct {
	// CacheDir keeps the last good copy of each HTTP list (written
	// atomically), so that a restart serves them even with the network
	// down. Relative to the config file's directory; "" disables it.
	CacheDir string `yaml:"cache_dir"`
	// Startup is wait (the default) or serve-cached.
	Startup string `yaml:"startup"`
	// StartupTimeout bounds the wait for lists that have no cached copy
	// when Startup is wait; then Bulwark exits with an error naming them.
	StartupTimeout time.Duration `yaml:"startup_timeout"`
	// Refresh is the default refresh interval (1h); each check is spread
	// by ±10% jitter so that a fleet does not poll in step.
	Refresh time.Duration `yaml:"refresh"`
	// Retry is the first retry delay after a failed refresh (30s); it
	// doubles per failure up to the refresh interval (at most 1h).
	Retry time.Duration `yaml:"retry"`
	// Timeout is the default bound on one download and parse (1m).
	Timeout time.Duration `yaml:"timeout"`
	// MaxSize is the default size bound of one list (256MiB).
	MaxSize ByteSize `yaml:"max_size"`
	// MaxEntries is the default entry bound of one list (10 million,
	// about 1 GiB of resolver memory once compiled).
	MaxEntries int `yaml:"max_entries"`
	// MinRatio is the default shrink threshold (0.5).
	MinRatio *float64 `yaml:"min_ratio"`
}

// Defaults of the feeds section.
const (
	DefaultStartupTimeout = 2 * time.Minute
	DefaultRefresh        = time.Hour
	DefaultRetry          = 30 * time.Second
	DefaultTimeout        = time.Minute
	DefaultMaxSize        = 256 << 20
	DefaultMaxEntries     = 10_000_000
	DefaultMinRatio       = 0.5
)

// SetDefaults fills unset values.
func (c *Config) SetDefaults() {
	yamlx.Defaults(c, Config{
		Startup:        StartupWait,
		StartupTimeout: DefaultStartupTimeout,
		Refresh:        DefaultRefresh,
		Retry:          DefaultRetry,
		Timeout:        DefaultTimeout,
		MaxSize:        DefaultMaxSize,
		MaxEntries:     DefaultMaxEntries,
		MinRatio:       new(float64(DefaultMinRatio)),
	})
}

// validateLimits checks the download limits that a list and the section
// (the lists' defaults) both carry, under the same keys.
func validateLimits(add func(key, format string, args ...any), timeout time.Duration, maxSize ByteSize, maxEntries int, minRatio *float64) {
	if timeout < 0 {
		add("timeout", "must not be negative (got %s)", timeout)
	}
	if maxSize < 0 {
		add("max_size", "must not be negative (got %d)", maxSize)
	}
	if maxEntries < 0 {
		add("max_entries", "must not be negative (got %d)", maxEntries)
	}
	if minRatio != nil && (*minRatio < 0 || *minRatio > 1 || math.IsNaN(*minRatio)) {
		add("min_ratio", "must be between 0 and 1 (got %v)", *minRatio)
	}
}

// Validate returns every problem with the section (after SetDefaults).
func (c *Config) Validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	switch c.Startup {
	case StartupWait, StartupServeCached:
	default:
		add("startup", "unknown policy %q; use %s or %s", c.Startup, StartupWait, StartupServeCached)
	}
	if c.StartupTimeout < 0 {
		add("startup_timeout", "must not be negative (got %s)", c.StartupTimeout)
	}
	if c.Refresh < minRemoteRefresh {
		add("refresh", "%s is too often for HTTP feeds; use at least %s (a list's own refresh may be shorter for local files)", c.Refresh, minRemoteRefresh)
	}
	if c.Retry < time.Second {
		add("retry", "%s is too short; use at least 1s", c.Retry)
	}
	validateLimits(add, c.Timeout, c.MaxSize, c.MaxEntries, c.MinRatio)
	return errs
}
