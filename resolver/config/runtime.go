package config

import (
	"strings"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// RuntimeConfig is the `runtime:` section: how the Go runtime may use the
// machine's memory.
type RuntimeConfig struct {
	// MemoryLimit is the soft limit of the Go heap and runtime (GOMEMLIMIT):
	// near it the collector works harder instead of letting the heap grow
	// by GOGC. "auto" (the default) takes 90% of the cgroup's memory limit
	// when the process runs under one (a container, a systemd MemoryMax=),
	// and no limit otherwise; "off" sets none; else a size ("512MiB"). A
	// GOMEMLIMIT environment variable overrides "auto".
	MemoryLimit string `yaml:"memory_limit"`
}

// Memory limit keywords of runtime.memory_limit.
const (
	MemoryLimitAuto = "auto"
	MemoryLimitOff  = "off"
)

// minMemoryLimit keeps a typo ("64K") from making the collector run
// continuously: below it, no resolver with lists loaded does useful work.
const minMemoryLimit = 16 << 20

// SetDefaults fills memory_limit.
func (c *RuntimeConfig) SetDefaults() {
	if strings.TrimSpace(c.MemoryLimit) == "" {
		c.MemoryLimit = MemoryLimitAuto
	}
}

// Limit returns the configured limit in bytes; 0 with auto set for "auto",
// 0 for "off".
func (c *RuntimeConfig) Limit() (bytes int64, auto bool, err error) {
	switch v := strings.TrimSpace(c.MemoryLimit); v {
	case "", MemoryLimitAuto:
		return 0, true, nil
	case MemoryLimitOff:
		return 0, false, nil
	default:
		n, err := feeds.ParseByteSize(v)
		return int64(n), false, err
	}
}

// Validate reports a memory_limit that is not "auto", "off" or a
// plausible size.
func (c *RuntimeConfig) Validate(path string) []error {
	n, auto, err := c.Limit()
	key := cfgerr.Join(path, "memory_limit")
	switch {
	case err != nil:
		return []error{cfgerr.New(key, "%v, or \"auto\" or \"off\"", err)}
	case !auto && c.MemoryLimit != MemoryLimitOff && n < minMemoryLimit:
		return []error{cfgerr.New(key, "%s is below the %s a loaded resolver needs; use a larger size, \"auto\" or \"off\"",
			feeds.ByteSize(n), feeds.ByteSize(minMemoryLimit))}
	}
	return nil
}
