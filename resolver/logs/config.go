package logs

import (
	"os"
	"path/filepath"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
	"github.com/bulwark-dns/bulwark/resolver/logsink"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
)

// Config is the `log:` section.
type Config struct {
	// Blocked is where block events go: "stdout", "stderr", "off", a
	// file path (appended to), or a sink URL (syslog+udp://, syslog+tcp://,
	// syslog+tls://, http://, https://; package logsink) with default
	// options.
	Blocked string `yaml:"blocked"`
	// Queries is where the full query log goes, one JSON line per
	// (sampled) query: "off" (the default: at ISP rates it is a lot of
	// data, and personal data), "stdout", "stderr", or a file path.
	Queries string `yaml:"queries"`
	// QuerySample is the fraction of queries the query log writes, in
	// (0, 1]; nil means 1 (every query).
	QuerySample *float64 `yaml:"query_sample"`
	// Level is the operational log level: debug, info, warn, error.
	Level string `yaml:"level"`
	// Privacy is how the logs write client addresses: `client: full |
	// truncate | hash | omit` and its parameters (truncate_ipv4,
	// truncate_ipv6, hash_key_file, hash_rotation), written in this
	// section. It also applies to dnstap unless dnstap.client is set.
	Privacy privacy.Config `yaml:",inline"`
	// BlockedClient and QueriesClient override client for one log (a
	// full block log for the security team, an omitted query log).
	BlockedClient string `yaml:"blocked_client"`
	QueriesClient string `yaml:"queries_client"`
	// Sinks are further destinations of the block log or the query log
	// (each entry's `log:`), with their options: a SIEM's syslog input,
	// an HTTP collector.
	Sinks []logsink.Config `yaml:"sinks"`
}

// SinksOf returns the sink destinations of one log ("blocked" or
// "queries"): its own destination if that is a URL, then the sinks for it.
func (c *Config) SinksOf(log string) []logsink.Config {
	dest := c.Blocked
	if log == "queries" {
		dest = c.Queries
	}
	var out []logsink.Config
	if logsink.IsURL(dest) {
		sc := logsink.Config{URL: dest, Log: log}
		sc.SetDefaults()
		out = append(out, sc)
	}
	for _, sc := range c.Sinks {
		if sc.Log == log {
			out = append(out, sc)
		}
	}
	return out
}

// ClientOf returns the privacy setting of one log ("blocked", "queries"):
// Privacy, with the log's own mode when it has one.
func (c *Config) ClientOf(log string) privacy.Config {
	pc := c.Privacy
	mode := c.BlockedClient
	if log == "queries" {
		mode = c.QueriesClient
	}
	if mode != "" {
		pc.Client = mode
	}
	return pc
}

// Sample returns QuerySample, or 1 when it is unset.
func (c *Config) Sample() float64 {
	if c.QuerySample == nil {
		return 1
	}
	return *c.QuerySample
}

// SetDefaults fills in unset values.
func (c *Config) SetDefaults() {
	yamlx.Defaults(c, Config{Blocked: "stdout", Queries: "off", Level: "info"})
	for i := range c.Sinks {
		c.Sinks[i].SetDefaults()
	}
}

// Validate reports every invalid value in the section. also are the
// client modes of tenants and dnstap, which use this section's privacy
// parameters.
func (c *Config) Validate(path string, also ...string) []error {
	errs := c.Privacy.Validate(path, append([]string{c.BlockedClient, c.QueriesClient}, also...)...)
	for _, o := range []struct{ key, mode string }{{"blocked_client", c.BlockedClient}, {"queries_client", c.QueriesClient}} {
		if _, err := privacy.ParseMode(o.mode); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, o.key), "%v", err))
		}
	}
	for _, d := range []struct{ key, dest string }{{"blocked", c.Blocked}, {"queries", c.Queries}} {
		switch {
		case d.dest == "stdout" || d.dest == "stderr" || d.dest == "off":
		case logsink.IsURL(d.dest):
			sc := logsink.Config{URL: d.dest, Log: d.key}
			sc.SetDefaults()
			// The URL is the key's whole value: point at the key.
			for _, err := range sc.Validate(cfgerr.Join(path, d.key)) {
				if e, ok := err.(*cfgerr.Error); ok && e.Path == cfgerr.Join(cfgerr.Join(path, d.key), "url") {
					e.Path = cfgerr.Join(path, d.key)
				}
				errs = append(errs, err)
			}
		default:
			dir := filepath.Dir(d.dest)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				errs = append(errs, cfgerr.New(cfgerr.Join(path, d.key), "directory %q of the log file does not exist", dir))
			}
		}
	}
	names := map[string]bool{}
	for _, sc := range append(c.SinksOf("blocked"), c.SinksOf("queries")...) {
		if names[sc.Name] {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "sinks"), "two sinks are named %q: give each a name:", sc.Name))
		}
		names[sc.Name] = true
	}
	for i := range c.Sinks {
		errs = append(errs, c.Sinks[i].Validate(cfgerr.Index(cfgerr.Join(path, "sinks"), i))...)
	}
	// Written as !(x > 0) so that NaN is rejected too.
	if s := c.Sample(); !(s > 0) || s > 1 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "query_sample"), "%v is outside (0, 1]; to log no queries, set queries: off", s))
	}
	switch c.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "level"), "%q is not one of debug, info, warn, error", c.Level))
	}
	return errs
}
