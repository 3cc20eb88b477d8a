package upstream

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
)

// Defaults: a client (stub) usually retries after 1-2s, so one forwarded
// query should give up within that, leaving time for a second server.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultTryTimeout = 700 * time.Millisecond
	// DefaultFailures consecutive transport failures open an upstream's
	// circuit breaker: one lost packet is noise, three in a row is not.
	DefaultFailures = 3
	// DefaultCooldown is how long a dead upstream rests before a probe.
	DefaultCooldown = 10 * time.Second
	// RFC 7871 section 11.1 suggests these as the most a resolver should
	// reveal of a client's address.
	DefaultECSIPv4Prefix = 24
	DefaultECSIPv6Prefix = 56
)

// Modes of the upstream section.
const (
	ModeForward   = "forward"
	ModeRecursive = "recursive"
)

// Strategies: how a query picks among a list of servers.
const (
	// StrategyFailover asks servers in config order.
	StrategyFailover = "failover"
	// StrategyRandom spreads queries by weight, then fails over.
	StrategyRandom = "random"
	// StrategyFastest asks the server with the lowest smoothed RTT first,
	// sometimes another so every RTT stays current.
	StrategyFastest = "fastest"
	// StrategyParallel races the two fastest; the first answer wins.
	StrategyParallel = "parallel"
)

// DoH request methods (RFC 8484 section 4.1).
const (
	MethodPOST = "post"
	MethodGET  = "get"
)

// maxWeight bounds a weight so a typo (10000 for 100) is caught.
const maxWeight = 1000

// Config is the `upstream:` YAML section.
type Config struct {
	// Mode is "forward" (the default: ask Servers) or "recursive" (iterate
	// from the root servers; see the `recursion:` section).
	Mode string `yaml:"mode"`
	// Servers are URLs or bare addresses; see parseServer for the forms.
	Servers []string `yaml:"servers"`
	// Strategy picks the order servers are asked in; default failover.
	Strategy string `yaml:"strategy"`
	// Weights, with strategy random, give each server (same order) its
	// share of queries; 0 makes a server a backup asked only after the
	// others failed. Default: equal.
	Weights []int `yaml:"weights"`
	// Timeout is the total budget per client query; default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// TryTimeout bounds one attempt at one server; default 700ms, at most
	// Timeout.
	TryTimeout time.Duration `yaml:"try_timeout"`
	// Bootstrap are plain-DNS servers (IP addresses) that resolve the host
	// names of tls:// and https:// servers written without an @address.
	// The system resolver is never used: it may be Bulwark itself.
	Bootstrap []string `yaml:"bootstrap"`
	// CAFile is a PEM file of extra root certificates trusted for tls://
	// and https:// servers, next to the system roots (private CAs, tests).
	CAFile string `yaml:"ca_file"`
	// DoHMethod is "post" (default) or "get" for https:// servers.
	DoHMethod string `yaml:"doh_method"`
	// Health configures each server's circuit breaker.
	Health HealthConfig `yaml:"health"`
	// ECS is the EDNS Client Subnet policy (RFC 7871).
	ECS ECSConfig `yaml:"ecs"`
	// Conditional sends names under some domains to other servers; the
	// most specific domain wins.
	Conditional []ConditionalConfig `yaml:"conditional"`
}

// HealthConfig is `upstream.health`: when a server is taken out of
// rotation and when it is tried again.
type HealthConfig struct {
	// Failures is how many consecutive transport failures (timeouts,
	// connection, TLS or HTTP errors; not DNS error codes) mark a server
	// down. Default 3.
	Failures int `yaml:"failures"`
	// Cooldown is how long a down server gets no queries before one probe
	// checks whether it is back. Default 10s.
	Cooldown time.Duration `yaml:"cooldown"`
}

// ECSConfig is `upstream.ecs`. Off by default: the client's subnet is
// personal data, and a cache shared by all clients gains nothing from it.
type ECSConfig struct {
	// Forward sends the client's ECS option upstream, cut to the prefixes
	// below. When false, no ECS ever leaves Bulwark.
	Forward bool `yaml:"forward"`
	// IPv4Prefix and IPv6Prefix are the most bits revealed; default 24/56.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// UseClientAddress derives ECS from the client's address when its
	// query has no ECS option (never for private or loopback addresses).
	UseClientAddress bool `yaml:"use_client_address"`
}

// ConditionalConfig is one `upstream.conditional` entry: Domains (and
// every name below them) go to Servers instead of the main list.
type ConditionalConfig struct {
	// Domains are matched with every name below them, case-insensitively;
	// Unicode names are converted to A-labels.
	Domains []string `yaml:"domains"`
	// Servers, Strategy and Weights are as in Config.
	Servers  []string `yaml:"servers"`
	Strategy string   `yaml:"strategy"`
	Weights  []int    `yaml:"weights"`
}

// SetDefaults fills in the unset values.
func (c *Config) SetDefaults() {
	if c.TryTimeout == 0 && c.Timeout > 0 && c.Timeout < DefaultTryTimeout {
		c.TryTimeout = c.Timeout // the default try timeout, cut to an explicit shorter timeout
	}
	yamlx.Defaults(c, Config{
		Mode:       ModeForward,
		Strategy:   StrategyFailover,
		Timeout:    DefaultTimeout,
		TryTimeout: DefaultTryTimeout,
		DoHMethod:  MethodPOST,
		Health:     HealthConfig{Failures: DefaultFailures, Cooldown: DefaultCooldown},
		ECS:        ECSConfig{IPv4Prefix: DefaultECSIPv4Prefix, IPv6Prefix: DefaultECSIPv6Prefix},
	})
	for i := range c.Conditional {
		if c.Conditional[i].Strategy == "" {
			c.Conditional[i].Strategy = StrategyFailover
		}
	}
}

// Validate returns every mistake in c, each a *cfgerr.Error located under
// path (e.g. "upstream.servers[1]"). Unset values count as their
// defaults, so it may run before or after SetDefaults.
func (c *Config) Validate(path string) []error {
	var errs []error
	add := func(p, format string, args ...any) { errs = append(errs, cfgerr.New(p, format, args...)) }
	switch c.Mode {
	case "", ModeForward:
	case ModeRecursive:
		if len(c.Servers) > 0 {
			add(cfgerr.Join(path, "servers"), "servers are not used in recursive mode; remove them or set mode: forward")
		}
	default:
		add(cfgerr.Join(path, "mode"), "%q is not forward or recursive", c.Mode)
	}
	if len(c.Servers) == 0 && c.Mode != ModeRecursive {
		add(cfgerr.Join(path, "servers"), "at least one upstream server is required, e.g. [\"9.9.9.9:53\"]")
	}
	bootstrap := validateBootstrap(cfgerr.Join(path, "bootstrap"), c.Bootstrap, &errs)
	errs = append(errs, validateGroup(path, c.Servers, c.Strategy, c.Weights, bootstrap)...)

	d := *c
	d.SetDefaults()
	if d.Timeout < 0 {
		add(cfgerr.Join(path, "timeout"), "must be positive, got %v", d.Timeout)
	}
	switch {
	case d.TryTimeout < 0:
		add(cfgerr.Join(path, "try_timeout"), "must be positive, got %v", d.TryTimeout)
	case d.Timeout > 0 && d.TryTimeout > d.Timeout:
		add(cfgerr.Join(path, "try_timeout"), "%v exceeds timeout %v; one attempt cannot outlast the whole query", d.TryTimeout, d.Timeout)
	}
	if d.DoHMethod != MethodPOST && d.DoHMethod != MethodGET {
		add(cfgerr.Join(path, "doh_method"), "%q is not post or get", d.DoHMethod)
	}
	if c.CAFile != "" {
		if _, err := loadCAFile(c.CAFile); err != nil {
			add(cfgerr.Join(path, "ca_file"), "%v", err)
		}
	}
	health := cfgerr.Join(path, "health")
	if d.Health.Failures < 0 {
		add(cfgerr.Join(health, "failures"), "must be at least 1, got %d", d.Health.Failures)
	}
	if d.Health.Cooldown < 0 {
		add(cfgerr.Join(health, "cooldown"), "must be positive, got %v", d.Health.Cooldown)
	}
	ecs := cfgerr.Join(path, "ecs")
	if d.ECS.IPv4Prefix < 0 || d.ECS.IPv4Prefix > 32 {
		add(cfgerr.Join(ecs, "ipv4_prefix"), "must be 1 to 32, got %d", d.ECS.IPv4Prefix)
	}
	if d.ECS.IPv6Prefix < 0 || d.ECS.IPv6Prefix > 128 {
		add(cfgerr.Join(ecs, "ipv6_prefix"), "must be 1 to 128, got %d", d.ECS.IPv6Prefix)
	}
	if d.ECS.UseClientAddress && !d.ECS.Forward {
		add(cfgerr.Join(ecs, "use_client_address"), "needs forward: true (with forward: false no client subnet is ever sent)")
	}

	seen := cfgerr.Firsts[string]{} // canonical domain -> where it was listed
	for i, cond := range c.Conditional {
		p := cfgerr.Index(cfgerr.Join(path, "conditional"), i)
		if len(cond.Domains) == 0 {
			add(cfgerr.Join(p, "domains"), "at least one domain is required, e.g. [corp.internal]")
		}
		for j, dom := range cond.Domains {
			dp := cfgerr.Index(cfgerr.Join(p, "domains"), j)
			if name, err := canonicalDomain(dom); err != nil {
				add(dp, "%v", err)
			} else if first, ok := seen.Claim(name, dp); !ok {
				add(dp, "%q is already listed as %s", dom, first)
			}
		}
		if len(cond.Servers) == 0 {
			add(cfgerr.Join(p, "servers"), "at least one server is required")
		}
		errs = append(errs, validateGroup(p, cond.Servers, cond.Strategy, cond.Weights, bootstrap)...)
	}
	return errs
}

// validateGroup checks one list of servers with its strategy and weights.
// hasBootstrap says whether host names without an @address can be
// resolved.
func validateGroup(path string, servers []string, strategy string, weights []int, hasBootstrap bool) []error {
	var errs []error
	sp := cfgerr.Join(path, "servers")
	seen := make(map[endpoint]int, len(servers))
	for i, s := range servers {
		ep, err := parseServer(s)
		first, dup := seen[ep]
		switch {
		case err != nil:
			errs = append(errs, cfgerr.New(cfgerr.Index(sp, i), "%v", err))
		case dup:
			errs = append(errs, cfgerr.New(cfgerr.Index(sp, i), "%q is already listed as %s", s, cfgerr.Index(sp, first)))
		case ep.needsBootstrap() && !hasBootstrap:
			errs = append(errs, cfgerr.New(cfgerr.Index(sp, i),
				"%q: the host name %s needs an address: append @IP (e.g. %s@192.0.2.1) or list plain-DNS servers under upstream.bootstrap", s, ep.host, s))
		default:
			seen[ep] = i
		}
	}
	switch strategy {
	case "", StrategyFailover, StrategyFastest, StrategyParallel:
		if len(weights) > 0 {
			errs = append(errs, cfgerr.New(cfgerr.Join(path, "weights"), "weights are only used with strategy: random"))
		}
	case StrategyRandom:
		wp := cfgerr.Join(path, "weights")
		if len(weights) > 0 && len(weights) != len(servers) {
			errs = append(errs, cfgerr.New(wp, "%d weights for %d servers; give one per server, in the same order", len(weights), len(servers)))
		}
		positive := len(weights) == 0
		for i, w := range weights {
			if w < 0 || w > maxWeight {
				errs = append(errs, cfgerr.New(cfgerr.Index(wp, i), "must be 0 to %d, got %d", maxWeight, w))
			}
			positive = positive || w > 0
		}
		if !positive {
			errs = append(errs, cfgerr.New(wp, "at least one weight must be above 0 (0 marks a backup server)"))
		}
	default:
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "strategy"), "%q is not failover, random, fastest or parallel", strategy))
	}
	return errs
}

// validateBootstrap checks the bootstrap list (plain DNS by IP only) and
// reports whether it has any usable server.
func validateBootstrap(path string, servers []string, errs *[]error) bool {
	ok := false
	for i, s := range servers {
		ep, err := parseServer(s)
		switch {
		case err != nil:
			*errs = append(*errs, cfgerr.New(cfgerr.Index(path, i), "%v", err))
		case ep.transport != transUDP && ep.transport != transTCP:
			*errs = append(*errs, cfgerr.New(cfgerr.Index(path, i), "%q: bootstrap servers are plain DNS by IP address (e.g. 9.9.9.9), so resolving them needs nothing else", s))
		default:
			ok = true
		}
	}
	return ok
}

// loadCAFile reads a PEM bundle of root certificates.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// idnaProfile converts a Unicode domain to A-labels as a lookup would.
// It is immutable.
var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false))

// canonicalDomain returns a conditional domain as the router compares it:
// lower case, A-labels, fully qualified.
func canonicalDomain(s string) (string, error) {
	name := strings.TrimSpace(s)
	if name == "" || name == "." {
		return "", fmt.Errorf("%q: the root is every name; put its servers under upstream.servers", s)
	}
	a, err := idnaProfile.ToASCII(strings.TrimSuffix(name, "."))
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain: %v", s, err)
	}
	name = dns.CanonicalName(a)
	if _, ok := dns.IsDomainName(name); !ok || strings.Contains(name, "..") || strings.ContainsAny(name, " /\\*@") {
		return "", fmt.Errorf("%q is not a valid domain", s)
	}
	return name, nil
}
