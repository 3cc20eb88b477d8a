package resolver

import (
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// ListenConfig is the `listen:` section: where clients and operators reach
// Bulwark.
type ListenConfig struct {
	// DNS lists the addresses served over both UDP and TCP.
	DNS []string `yaml:"dns"`
	// Admin is the HTTP address of /metrics, /healthz and /readyz; empty
	// disables it.
	Admin string `yaml:"admin"`
	// TCPIdleTimeout closes a TCP connection that sent nothing for this long
	// (RFC 7766 §6.2.3).
	TCPIdleTimeout time.Duration `yaml:"tcp_idle_timeout"`
	// UDPSize is the largest UDP answer Bulwark sends, whatever a client
	// advertises (DNS flag day 2020 recommends 1232).
	UDPSize int `yaml:"udp_size"`
	// MaxInflight bounds the queries being answered at once; past it, new
	// UDP queries are dropped rather than queued without limit.
	MaxInflight int `yaml:"max_inflight"`
}

// SetDefaults fills in unset values.
func (c *ListenConfig) SetDefaults() {
	if c.TCPIdleTimeout == 0 {
		c.TCPIdleTimeout = 10 * time.Second
	}
	if c.UDPSize == 0 {
		c.UDPSize = 1232
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 20000
	}
}

// Validate reports every invalid value in the section.
func (c *ListenConfig) Validate(path string) []error {
	var errs []error
	if len(c.DNS) == 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "dns"), "at least one address is required"))
	}
	seen := map[string]bool{}
	for i, a := range c.DNS {
		p := cfgerr.Index(cfgerr.Join(path, "dns"), i)
		if _, err := netip.ParseAddrPort(a); err != nil {
			errs = append(errs, cfgerr.New(p, "%q is not an IP:port address (e.g. \"127.0.0.1:53\" or \"[::1]:53\")", a))
		} else if seen[a] {
			errs = append(errs, cfgerr.New(p, "%q is listed twice", a))
		}
		seen[a] = true
	}
	if c.Admin != "" {
		if _, err := netip.ParseAddrPort(c.Admin); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "admin"), "%q is not an IP:port address", c.Admin))
		}
	}
	if c.TCPIdleTimeout < 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "tcp_idle_timeout"), "must not be negative"))
	}
	if c.UDPSize < 512 || c.UDPSize > 65535 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "udp_size"), "%d is outside 512-65535", c.UDPSize))
	}
	if c.MaxInflight < 1 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "max_inflight"), "must be at least 1"))
	}
	return errs
}

// BlockingConfig is the `blocking:` section: how synthesized block answers
// look.
type BlockingConfig struct {
	// TTL of synthesized records and of the SOA in negative block answers,
	// which bounds how long clients cache a block after a list change.
	TTL time.Duration `yaml:"ttl"`
}

// SetDefaults fills in unset values.
func (c *BlockingConfig) SetDefaults() {
	if c.TTL == 0 {
		c.TTL = 60 * time.Second
	}
}

// Validate reports every invalid value in the section.
func (c *BlockingConfig) Validate(path string) []error {
	if c.TTL < time.Second || c.TTL > 24*time.Hour {
		return []error{cfgerr.New(cfgerr.Join(path, "ttl"), "%s is outside 1s-24h", c.TTL)}
	}
	return nil
}

// LogConfig is the `log:` section.
type LogConfig struct {
	// Blocked is where block events go: "stdout", "stderr", "off", or a
	// file path (appended to).
	Blocked string `yaml:"blocked"`
	// Level is the operational log level: debug, info, warn, error.
	Level string `yaml:"level"`
}

// SetDefaults fills in unset values.
func (c *LogConfig) SetDefaults() {
	if c.Blocked == "" {
		c.Blocked = "stdout"
	}
	if c.Level == "" {
		c.Level = "info"
	}
}

// Validate reports every invalid value in the section.
func (c *LogConfig) Validate(path string) []error {
	var errs []error
	switch c.Blocked {
	case "stdout", "stderr", "off":
	default:
		dir := filepath.Dir(c.Blocked)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "blocked"), "directory %q of the log file does not exist", dir))
		}
	}
	switch c.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "level"), "%q is not one of debug, info, warn, error", c.Level))
	}
	return errs
}
