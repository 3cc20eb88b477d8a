package feeds

import (
	"regexp"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// TAXIIConfig makes an http(s) list source a TAXII 2.1 server (OASIS
// TAXII 2.1): Bulwark polls one collection's objects, asking only for what
// was added since the last poll (added_after), and serves the indicators
// in it as format stix.
type TAXIIConfig struct {
	// Collection is the collection's id or title. Empty: the source is
	// the collection's own URL (".../collections/ID/"); otherwise the
	// source is the server's discovery URL or an API root.
	Collection string `yaml:"collection"`
	// APIRoot picks an API root of the discovery answer (its URL, or a
	// path relative to the source); empty means the server's default.
	APIRoot string `yaml:"api_root"`
	// Username and Password are HTTP basic credentials; Token a bearer
	// token. Like header values, they may be "${NAME}" or "file:PATH".
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// PageSize is the limit asked per page (default 1000); MaxPages
	// bounds one poll (default 1000).
	PageSize int `yaml:"page_size"`
	MaxPages int `yaml:"max_pages"`
}

// MISPConfig configures a MISP source. Without it, or with api false, a
// format misp list is a MISP feed when its source ends in "/" or
// "manifest.json" (a directory of event files with a manifest), else one
// MISP JSON document.
type MISPConfig struct {
	// API asks the MISP REST API's /attributes/restSearch instead of a
	// feed; the source is the instance's base URL.
	API bool `yaml:"api"`
	// Key is the API key (the Authorization header); it may be
	// "${NAME}" or "file:PATH".
	Key string `yaml:"key"`
	// Last is restSearch's "last" window in MISP syntax ("30d", "12h");
	// Timestamp asks only attributes changed within that long (sent as
	// restSearch "timestamp"). Without either, every attribute.
	// FullRefresh is how often that whole window is searched again
	// (default 24h); in between, and across restarts, each fetch asks only
	// for the attributes changed since the newest one in hand (deleted and
	// to_ids-off ones included, so that they drop out). The full search
	// also catches what a change search cannot see, such as an event's
	// tags changing or a hard-deleted event.
	Last        string        `yaml:"last"`
	Timestamp   time.Duration `yaml:"timestamp"`
	FullRefresh time.Duration `yaml:"full_refresh"`
	// Tags limits restSearch to attributes with one of these tags.
	Tags []string `yaml:"tags"`
	// Sightings reports blocks back as MISP sightings (sightings.misp).
	Sightings bool `yaml:"sightings"`
}

// mispLast is restSearch's "last" syntax.
var mispLast = regexp.MustCompile(`^[0-9]+[smhdw]?$`)

// validateIntel checks the threat-intelligence keys of a list.
func (c *ListConfig) validateIntel(path, scheme string, allow bool) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	remote := scheme == schemeHTTP || scheme == schemeHTTPS
	intel := c.Format == FormatSTIX || c.Format == FormatMISP
	secret := func(key, v string) {
		if v != "" {
			if err := checkHeaderValue(v); err != nil {
				add(key, "%v", err)
			}
		}
	}
	if t := c.TAXII; t != nil {
		switch {
		case c.Format != FormatSTIX:
			add("taxii", "a TAXII source serves STIX: set format: stix (got %q)", c.Format)
		case scheme != "" && !remote:
			add("taxii", "a TAXII source is an http(s) URL (source is %q)", c.Source)
		}
		if t.Token != "" && (t.Username != "" || t.Password != "") {
			add("taxii.token", "use either a bearer token or username and password, not both")
		}
		if (t.Username == "") != (t.Password == "") {
			add("taxii.password", "basic authentication needs both username and password")
		}
		secret("taxii.username", t.Username)
		secret("taxii.password", t.Password)
		secret("taxii.token", t.Token)
		if t.PageSize < 0 {
			add("taxii.page_size", "must not be negative (got %d)", t.PageSize)
		}
		if t.MaxPages < 0 {
			add("taxii.max_pages", "must not be negative (got %d)", t.MaxPages)
		}
		if t.Collection == "" && !strings.Contains(c.Source, "/collections/") {
			add("taxii.collection", "name the collection (id or title), or make the source the collection's URL (.../collections/ID/)")
		}
	}
	if m := c.MISP; m != nil {
		if c.Format != FormatMISP {
			add("misp", "a MISP source needs format: misp (got %q)", c.Format)
		}
		switch {
		case m.API && scheme != "" && !remote:
			add("misp.api", "the MISP API is an http(s) URL (source is %q)", c.Source)
		case m.API && m.Key == "":
			add("misp.key", "the MISP API needs an API key")
		case !m.API && (m.Last != "" || m.Timestamp != 0 || len(m.Tags) > 0 || m.FullRefresh != 0):
			add("misp.api", "last, timestamp, tags and full_refresh are restSearch settings: set api: true")
		case !m.API && m.Sightings:
			add("misp.sightings", "MISP sightings go through the API: set api: true and key")
		}
		secret("misp.key", m.Key)
		if m.Last != "" && !mispLast.MatchString(m.Last) {
			add("misp.last", "%q is not a MISP window; use a number with s, m, h, d or w, e.g. 30d", m.Last)
		}
		if m.Timestamp < 0 {
			add("misp.timestamp", "must not be negative (got %s)", m.Timestamp)
		}
		if m.FullRefresh < 0 {
			add("misp.full_refresh", "must not be negative (got %s)", m.FullRefresh)
		}
	}
	if intel && !allow && c.ActionOverride == ActionPassthru {
		// Feed trust: a shared feed blocks; turned into exceptions it
		// would lift other lists' blocks.
		add("action_override", "a %s block list cannot be passthru: its indicators would lift other lists' blocks; to trust them as exceptions, list it under allowlists:", c.Format)
	}
	if len(c.TagCategories) > 0 && !intel {
		add("tag_categories", "only stix and misp lists have tags (format is %q)", c.Format)
	}
	if len(c.TagCategories) > maxTagCategories {
		add("tag_categories", "%d entries; at most %d are supported", len(c.TagCategories), maxTagCategories)
	}
	for _, k := range sortedKeys(c.TagCategories) {
		if strings.TrimSpace(c.TagCategories[k]) == "" || strings.TrimSpace(k) == "" {
			add(cfgerr.Join("tag_categories", k), "tag and category must not be empty")
		}
	}
	return errs
}

// intelSource returns the source of a TAXII or MISP list, or nil for the
// others (which keep the file or http source buildSpecs made).
func intelSource(c ListConfig, sp *feedSpec, env specEnv) Source {
	scheme, rest, _ := splitSource(c.Source) // validated
	remote := scheme == schemeHTTP || scheme == schemeHTTPS
	switch {
	case c.TAXII != nil && remote:
		return newTAXIISource(rest, *c.TAXII, sp, env)
	case c.Format != FormatMISP:
		return nil
	case c.MISP != nil && c.MISP.API && remote:
		return newMISPAPISource(rest, *c.MISP, sp, env)
	case strings.HasSuffix(rest, "/") || strings.HasSuffix(rest, "manifest.json"):
		return newMISPFeedSource(scheme, rest, sp, env)
	}
	return nil
}
