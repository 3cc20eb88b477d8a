package dnstap

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
)

// Config is the `dnstap:` section: where the dnstap stream goes and what
// it carries.
type Config struct {
	// Socket is the collector: "unix:/run/dnstap.sock" or
	// "tcp:127.0.0.1:6000" (an IP, not a host name: resolving it would
	// need the resolver being started). Empty turns dnstap off.
	Socket string `yaml:"socket"`
	// Identity names this server in every frame; empty means the host
	// name (as Unbound, BIND and CoreDNS do).
	Identity string `yaml:"identity"`
	// Version is sent in every frame; empty means "bulwark VERSION".
	Version string `yaml:"version"`
	// LogQueries sends CLIENT_QUERY messages; nil means true.
	LogQueries *bool `yaml:"log_queries"`
	// LogResponses sends CLIENT_RESPONSE messages; nil means true.
	LogResponses *bool `yaml:"log_responses"`
	// QueueSize bounds the queries waiting to be sent; past it (a slow or
	// absent collector) frames are dropped and counted, never waited for.
	QueueSize int `yaml:"queue_size"`
	// Timeout bounds connecting, the Frame Streams handshake and each
	// write to the collector.
	Timeout time.Duration `yaml:"timeout"`
	// Client is how query_address is written: full, truncate (the
	// network's first address, log's prefixes), hash or omit (no address
	// and no port: a hash does not fit an address field). Empty follows
	// log.client.
	Client string `yaml:"client"`
}

// Enabled reports whether a collector is configured.
func (c *Config) Enabled() bool { return c.Socket != "" }

// SetDefaults fills in unset values.
func (c *Config) SetDefaults() {
	yamlx.Defaults(c, Config{LogQueries: new(true), LogResponses: new(true), QueueSize: 10000, Timeout: 2 * time.Second})
}

// Validate reports every invalid value in the section.
func (c *Config) Validate(path string) []error {
	var errs []error
	if c.Socket != "" {
		if _, _, err := parseSocket(c.Socket); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "socket"), "%v", err))
		}
		if !c.logQueries() && !c.logResponses() {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "log_queries"),
				"log_queries and log_responses are both false: nothing would be sent; remove socket to turn dnstap off"))
		}
	}
	if _, err := privacy.ParseMode(c.Client); err != nil {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "client"), "%v", err))
	}
	if len(c.Identity) > 255 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "identity"), "longer than 255 bytes"))
	}
	if len(c.Version) > 255 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "version"), "longer than 255 bytes"))
	}
	if c.QueueSize < 1 || c.QueueSize > 1_000_000 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "queue_size"), "%d is outside 1-1000000", c.QueueSize))
	}
	if c.Timeout < 10*time.Millisecond || c.Timeout > time.Minute {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "timeout"), "%s is outside 10ms-1m", c.Timeout))
	}
	return errs
}

func (c *Config) logQueries() bool   { return c.LogQueries == nil || *c.LogQueries }
func (c *Config) logResponses() bool { return c.LogResponses == nil || *c.LogResponses }

// parseSocket splits "unix:/path" or "tcp:IP:port" into a network and an
// address for net.Dial.
func parseSocket(s string) (network, addr string, err error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("%q has no scheme; use \"unix:/path/to/socket\" or \"tcp:IP:port\"", s)
	}
	switch scheme {
	case "unix":
		if rest == "" || !filepath.IsAbs(rest) {
			return "", "", fmt.Errorf("%q: the unix socket path must be absolute (\"unix:/run/dnstap.sock\")", s)
		}
		// sun_path is 108 bytes on Linux, including the terminating NUL.
		if len(rest) > 107 {
			return "", "", fmt.Errorf("%q: unix socket paths are limited to 107 bytes", s)
		}
		return "unix", rest, nil
	case "tcp":
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || ap.Port() == 0 {
			return "", "", fmt.Errorf("%q: want tcp:IP:port, e.g. \"tcp:127.0.0.1:6000\" or \"tcp:[::1]:6000\"", s)
		}
		return "tcp", ap.String(), nil
	}
	return "", "", fmt.Errorf("%q: unknown scheme %q; use unix: or tcp:", s, scheme)
}
