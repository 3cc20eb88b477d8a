package upstream

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// Defaults: a client (stub) usually retries after 1-2s, so one forwarded
// query should give up within that, leaving time for a second server.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultTryTimeout = 700 * time.Millisecond
)

// Modes of the upstream section.
const (
	ModeForward   = "forward"
	ModeRecursive = "recursive"
)

// Config is the `upstream:` YAML section.
type Config struct {
	// Mode is "forward" (the default: ask Servers) or "recursive" (iterate
	// from the root servers; see the `recursion:` section).
	Mode string `yaml:"mode"`
	// Servers are tried in order: "ip:port", "[v6]:port", or a bare "ip"
	// (port 53). See parseServer for what is accepted.
	Servers []string `yaml:"servers"`
	// Timeout is the total budget per client query; default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// TryTimeout bounds one attempt at one server; default 700ms, at most
	// Timeout.
	TryTimeout time.Duration `yaml:"try_timeout"`
}

// SetDefaults fills in the zero durations.
func (c *Config) SetDefaults() {
	if c.Mode == "" {
		c.Mode = ModeForward
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TryTimeout == 0 {
		c.TryTimeout = DefaultTryTimeout
		if c.Timeout > 0 && c.Timeout < c.TryTimeout {
			c.TryTimeout = c.Timeout
		}
	}
}

// Validate returns every mistake in c, each a *cfgerr.Error located under
// path (e.g. "upstream.servers[1]"). Zero durations count as their
// defaults, so it may run before or after SetDefaults.
func (c *Config) Validate(path string) []error {
	var errs []error
	switch c.Mode {
	case "", ModeForward:
	case ModeRecursive:
		if len(c.Servers) > 0 {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "servers"), "servers are not used in recursive mode; remove them or set mode: forward"))
		}
	default:
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "mode"), "%q is not forward or recursive", c.Mode))
	}
	servers := cfgerr.Join(path, "servers")
	if len(c.Servers) == 0 && c.Mode != ModeRecursive {
		errs = append(errs, cfgerr.New(servers, "at least one upstream server is required, e.g. [\"9.9.9.9:53\"]"))
	}
	seen := make(map[endpoint]int, len(c.Servers))
	for i, s := range c.Servers {
		ep, err := parseServer(s)
		switch first, dup := seen[ep]; {
		case err != nil:
			errs = append(errs, cfgerr.New(cfgerr.Index(servers, i), "%v", err))
		case dup:
			errs = append(errs, cfgerr.New(cfgerr.Index(servers, i), "%q is already listed as %s", s, cfgerr.Index(servers, first)))
		default:
			seen[ep] = i
		}
	}

	d := *c
	d.SetDefaults()
	if d.Timeout < 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "timeout"), "must be positive, got %v", d.Timeout))
	}
	switch {
	case d.TryTimeout < 0:
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "try_timeout"), "must be positive, got %v", d.TryTimeout))
	case d.Timeout > 0 && d.TryTimeout > d.Timeout:
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "try_timeout"), "%v exceeds timeout %v; one attempt cannot outlast the whole query", d.TryTimeout, d.Timeout))
	}
	return errs
}

// endpoint is one parsed server address. Later transports (udp://,
// tls://, https://) add a scheme and, for DoT/DoH, a name and URL here.
type endpoint struct {
	addr netip.AddrPort
}

// parseServer is the one place server strings are understood, so new
// forms (URLs with schemes) are added here and nowhere else.
func parseServer(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, fmt.Errorf("empty server address")
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return endpoint{}, fmt.Errorf("%q: %s:// upstreams are not supported yet; use ip, ip:port or [ipv6]:port", s, scheme)
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
		if aerr != nil {
			return endpoint{}, fmt.Errorf("%q is not an IP address with optional port (e.g. 9.9.9.9, 9.9.9.9:53, [2620:fe::fe]:53); host names are not resolved", s)
		}
		ap = netip.AddrPortFrom(a, 53)
	}
	switch {
	case ap.Port() == 0:
		return endpoint{}, fmt.Errorf("%q: port 0 is not a server port", s)
	case ap.Addr().IsUnspecified() || ap.Addr().IsMulticast():
		return endpoint{}, fmt.Errorf("%q: %s cannot be an upstream server", s, ap.Addr())
	}
	return endpoint{addr: ap}, nil
}
