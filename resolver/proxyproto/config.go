package proxyproto

import (
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/netprefix"
)

// Config is the `listen.proxy_protocol:` section. Empty Trusted (the
// default) turns the protocol off: every packet is DNS from its sender.
type Config struct {
	// Trusted lists the balancer networks (CIDR; a bare address is a /32
	// or /128) whose packets and connections must start with a PROXY
	// header. Anything else must not: a header from elsewhere is refused.
	Trusted []string `yaml:"trusted"`
	// HeaderTimeout bounds how long a TCP, DoT or DoH connection from a
	// trusted balancer may take to send its header.
	HeaderTimeout time.Duration `yaml:"header_timeout"`
}

// SetDefaults fills in unset values.
func (c *Config) SetDefaults() {
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = 5 * time.Second
	}
}

// Validate reports every invalid value in the section.
func (c *Config) Validate(path string) []error {
	var errs []error
	seen := map[netip.Prefix]int{}
	for i, s := range c.Trusted {
		p := cfgerr.Index(cfgerr.Join(path, "trusted"), i)
		pfx, err := netprefix.Parse(s)
		if err != nil {
			errs = append(errs, cfgerr.New(p, "%q is not a CIDR network or address", s))
			continue
		}
		if j, dup := seen[pfx]; dup {
			errs = append(errs, cfgerr.New(p, "%q is already listed as trusted[%d]", s, j))
			continue
		}
		seen[pfx] = i
	}
	errs = cfgerr.AtLeast(errs, path, "header_timeout", c.HeaderTimeout, 0)
	return errs
}

// Policy is a compiled Config: who is trusted, and the counters. A nil
// *Policy is valid and means the protocol is off.
type Policy struct {
	trusted []netip.Prefix
	timeout time.Duration
	metrics *Metrics
	logger  *slog.Logger
}

// New compiles c (validated); it returns nil, the protocol off, when no
// network is trusted. m and logger may be nil.
func New(c Config, m *Metrics, logger *slog.Logger) (*Policy, error) {
	c.SetDefaults()
	if len(c.Trusted) == 0 {
		return nil, nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Policy{timeout: c.HeaderTimeout, metrics: m, logger: logger}
	for _, s := range c.Trusted {
		pfx, err := netprefix.Parse(s)
		if err != nil {
			return nil, err
		}
		p.trusted = append(p.trusted, pfx)
	}
	return p, nil
}

// Trusted reports whether a packet or connection from a must carry a
// PROXY header. The list is short (a few balancer networks), so a linear
// scan is the fastest index.
func (p *Policy) Trusted(a netip.Addr) bool {
	if p == nil {
		return false
	}
	a = a.Unmap()
	for _, pfx := range p.trusted {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// debug logs why a connection was discarded: an operator whose balancer
// is misconfigured sees the reason at debug level, the count in metrics.
func (p *Policy) debug(msg string, peer net.Addr) {
	p.logger.Debug(msg, "peer", peer.String())
}
