package clock

import (
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// Config is the `testing:` YAML section: settings for external test suites
// only, never for production.
type Config struct {
	// ClockFile, when set, makes the cache (expiry, prefetch, serve-stale),
	// the recursive resolver's infrastructure caches and DNSSEC validation
	// read the time from a libfaketime timestamp file (see File), so a
	// conformance suite can move the resolver's time as it moves its
	// other programs'. Feeds, rate limits and logs keep the wall clock.
	ClockFile string `yaml:"clock_file"`
}

// Validate checks that the clock file exists and holds a time, so a typo
// fails at start rather than silently running on the wall clock.
func (c *Config) Validate(path string) []error {
	if c.ClockFile == "" {
		return nil
	}
	if _, err := NewFile(c.ClockFile); err != nil {
		return []error{cfgerr.New(cfgerr.Join(path, "clock_file"), "%v", err)}
	}
	return nil
}

// Clock returns the clock the section selects: the File clock, or the
// wall clock when clock_file is unset.
func (c *Config) Clock() (Clock, error) {
	if c.ClockFile == "" {
		return Real{}, nil
	}
	return NewFile(c.ClockFile)
}
