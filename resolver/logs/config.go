package logs

import (
	"os"
	"path/filepath"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// Config is the `log:` section.
type Config struct {
	// Blocked is where block events go: "stdout", "stderr", "off", or a
	// file path (appended to).
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
	if c.Blocked == "" {
		c.Blocked = "stdout"
	}
	if c.Queries == "" {
		c.Queries = "off"
	}
	if c.Level == "" {
		c.Level = "info"
	}
}

// Validate reports every invalid value in the section.
func (c *Config) Validate(path string) []error {
	var errs []error
	for _, d := range []struct{ key, dest string }{{"blocked", c.Blocked}, {"queries", c.Queries}} {
		switch d.dest {
		case "stdout", "stderr", "off":
		default:
			dir := filepath.Dir(d.dest)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				errs = append(errs, cfgerr.New(cfgerr.Join(path, d.key), "directory %q of the log file does not exist", dir))
			}
		}
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
