package recursive

import (
	"fmt"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// Defaults, after Unbound's where it has an equivalent, so operators meet no
// surprises.
const (
	DefaultPort       = 53
	DefaultMaxQueries = 64
	// DefaultMaxDepth bounds nested name-server address lookups (a glue-less
	// delegation whose name servers are themselves glue-less, ...).
	DefaultMaxDepth = 6
	// DefaultMaxChain is the CNAME/DNAME links followed per query (Unbound
	// stops after 11 restarts, BIND after 16).
	DefaultMaxChain = 12
	// DefaultTimeout is the time budget of one client query; a stub has
	// retried (and the cache coalesced the retry onto this work) by then.
	DefaultTimeout  = 5 * time.Second
	DefaultLameTTL  = 15 * time.Minute
	DefaultInfraTTL = 15 * time.Minute
	// DefaultInfraCacheSize counts authoritative server addresses.
	DefaultInfraCacheSize = 10000
	// DefaultDelegationCacheSize counts zones; as many name-server host
	// names again are kept with their addresses.
	DefaultDelegationCacheSize = 10000
)

// Config is the `recursion:` YAML section, used when upstream.mode is
// recursive.
//
// A section decoded from YAML starts from the defaults, so `ipv6: false` or
// `qname_minimisation: false` is kept; SetDefaults only fills the zero fields
// of a Config built in code.
type Config struct {
	// RootHints are the servers asked first: "ip" or "name ip" each, e.g.
	// "a.root-servers.net 198.41.0.4". Empty means the IANA root servers.
	RootHints []string `yaml:"root_hints"`
	// Port is the port of every authoritative server (53; tests change it).
	Port int `yaml:"port"`
	// IPv4 and IPv6 choose the transports used to reach servers.
	IPv4 bool `yaml:"ipv4"`
	IPv6 bool `yaml:"ipv6"`
	// QnameMinimisation sends each server only the labels it needs (RFC
	// 9156), falling back to the full name for servers that break on it.
	QnameMinimisation bool `yaml:"qname_minimisation"`
	// CaseRandomisation (0x20) randomises the letter case of query names
	// and requires replies to echo it: more spoofing resistance, but some
	// servers do not preserve case (we then retry without).
	CaseRandomisation bool `yaml:"case_randomisation"`
	// MaxQueries bounds the queries sent to authoritative servers for one
	// client query, sub-lookups included.
	MaxQueries int `yaml:"max_queries"`
	// MaxDepth bounds nested lookups of name-server addresses.
	MaxDepth int `yaml:"max_depth"`
	// MaxChain bounds the CNAME and DNAME links followed.
	MaxChain int `yaml:"max_chain"`
	// Timeout is the time budget of one client query.
	Timeout time.Duration `yaml:"timeout"`
	// LameTTL is how long a server found lame for a zone is not asked again.
	LameTTL time.Duration `yaml:"lame_ttl"`
	// InfraTTL is how long a server's RTT, timeouts and EDNS support are
	// remembered.
	InfraTTL time.Duration `yaml:"infra_ttl"`
	// InfraCacheSize bounds the servers remembered (and the lame marks).
	InfraCacheSize int `yaml:"infra_cache_size"`
	// DelegationCacheSize bounds the zone cuts remembered.
	DelegationCacheSize int `yaml:"delegation_cache_size"`
	// QueryLoopback allows sending to 127.0.0.0/8 and ::1. Off by default
	// (as Unbound's do-not-query-localhost) so a delegation pointing at
	// loopback cannot make the resolver query itself or local services;
	// tests and labs turn it on.
	QueryLoopback bool `yaml:"query_loopback"`
	// QueryPrivate allows sending to private (10/8, 172.16/12,
	// 192.168/16, fc00::/7), shared (100.64/10) and link-local
	// (169.254/16, fe80::/10) addresses. Off by default (as Unbound's
	// private-address and PowerDNS's dont-query): a hostile zone's glue
	// pointing at 169.254.169.254 or an internal host must not make the
	// resolver probe the network it sits in; split-horizon labs turn it on.
	QueryPrivate bool `yaml:"query_private"`
	// HardenGlue believes glue only for name servers inside the zone that
	// sends it (Unbound's harden-glue). Off, a referral's glue for any of
	// its name servers is taken, as from a parent that also serves the
	// servers' zone; it saves lookups at the price of trusting parents with
	// names they are not authoritative for.
	HardenGlue bool `yaml:"harden_glue"`
	// QnameMinimisationType is the query type of minimised queries: "A"
	// (RFC 9156's choice, the default: servers answer it like any query)
	// or "NS" (a referral or the zone's NS set either way, as Knot
	// Resolver and early Unbound sent).
	QnameMinimisationType string `yaml:"qname_minimisation_type"`

	decoded bool // set by UnmarshalYAML: defaults already applied
}

// DefaultConfig returns the configuration used when the section is absent.
func DefaultConfig() Config {
	var c Config
	c.SetDefaults()
	return c
}

// SetDefaults fills the zero fields of a Config built in code (booleans
// default to on, except CaseRandomisation, QueryLoopback and QueryPrivate). It leaves a
// Config decoded from YAML alone: there, a zero was written on purpose.
func (c *Config) SetDefaults() {
	if c.decoded {
		return
	}
	c.decoded = true
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if !c.IPv4 && !c.IPv6 {
		c.IPv4, c.IPv6 = true, true
	}
	c.QnameMinimisation = true
	c.HardenGlue = true
	yamlx.Defaults(c, Config{
		QnameMinimisationType: "A",
		MaxQueries:            DefaultMaxQueries,
		MaxDepth:              DefaultMaxDepth,
		MaxChain:              DefaultMaxChain,
		Timeout:               DefaultTimeout,
		LameTTL:               DefaultLameTTL,
		InfraTTL:              DefaultInfraTTL,
		InfraCacheSize:        DefaultInfraCacheSize,
		DelegationCacheSize:   DefaultDelegationCacheSize,
	})
}

// UnmarshalYAML decodes the section on top of the defaults, so that keys
// left out get defaults and keys written as false or zero stay so. It
// rejects unknown keys itself: a custom unmarshaler does not inherit the
// root decoder's strictness.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	type plain Config // no methods: avoids recursing into UnmarshalYAML
	p := plain(DefaultConfig())
	if err := yamlx.DecodeStrict(n, &p, "recursive.Config"); err != nil {
		return err
	}
	*c = Config(p)
	c.decoded = true
	return nil
}

// Validate returns every mistake in c, each a *cfgerr.Error located under
// path (e.g. "recursion.root_hints[2]").
func (c *Config) Validate(path string) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	d := *c
	d.SetDefaults()

	hints := cfgerr.Join(path, "root_hints")
	seen := make(map[netip.Addr]int)
	usable := 0
	for i, s := range d.RootHints {
		h, err := parseHint(s)
		p := cfgerr.Index(hints, i)
		switch first, dup := seen[h.addr]; {
		case err != nil:
			errs = append(errs, cfgerr.New(p, "%v", err))
		case dup:
			errs = append(errs, cfgerr.New(p, "%s is already listed as %s", h.addr, cfgerr.Index(hints, first)))
		case h.addr.IsLoopback() && !d.QueryLoopback:
			errs = append(errs, cfgerr.New(p, "%s is a loopback address; set %s: true to allow it (tests and labs only)", h.addr, cfgerr.Join(path, "query_loopback")))
		case isInternal(h.addr) && !d.QueryPrivate:
			errs = append(errs, cfgerr.New(p, "%s is a private or link-local address; set %s: true to allow it", h.addr, cfgerr.Join(path, "query_private")))
		default:
			seen[h.addr] = i
			if h.addr.Is4() && d.IPv4 || h.addr.Is6() && d.IPv6 {
				usable++
			}
		}
	}
	if len(d.RootHints) > 0 && len(seen) == len(d.RootHints) && usable == 0 {
		errs = append(errs, cfgerr.New(hints, "no root hint is reachable with ipv4: %v, ipv6: %v", d.IPv4, d.IPv6))
	}
	if d.Port < 1 || d.Port > 65535 {
		add("port", "must be a port number (1-65535), got %d", d.Port)
	}
	if !d.IPv4 && !d.IPv6 {
		add("ipv6", "ipv4 and ipv6 are both off: the resolver could reach no server")
	}
	ints := []struct {
		key       string
		v, lo, hi int
	}{
		{"max_queries", d.MaxQueries, 1, 1000},
		{"max_depth", d.MaxDepth, 1, 20},
		{"max_chain", d.MaxChain, 1, 64},
		{"infra_cache_size", d.InfraCacheSize, 1, 1 << 24},
		{"delegation_cache_size", d.DelegationCacheSize, 1, 1 << 24},
	}
	for _, f := range ints {
		if f.v < f.lo || f.v > f.hi {
			add(f.key, "must be between %d and %d, got %d", f.lo, f.hi, f.v)
		}
	}
	durs := []struct {
		key string
		v   time.Duration
	}{{"timeout", d.Timeout}, {"lame_ttl", d.LameTTL}, {"infra_ttl", d.InfraTTL}}
	for _, f := range durs {
		if f.v <= 0 {
			add(f.key, "must be positive, got %v", f.v)
		}
	}
	if t := strings.ToUpper(d.QnameMinimisationType); t != "A" && t != "NS" {
		add("qname_minimisation_type", "must be A or NS, got %q", d.QnameMinimisationType)
	}
	if d.Timeout > 0 && d.Timeout < 100*time.Millisecond {
		add("timeout", "%v is too short to reach any server; use at least 100ms", d.Timeout)
	}
	return errs
}

// hint is one parsed root hint.
type hint struct {
	name string // canonical; synthesized when the hint is a bare address
	addr netip.Addr
}

// parseHint reads "ip" or "name ip".
func parseHint(s string) (hint, error) {
	fields := strings.Fields(s)
	var name, ip string
	switch len(fields) {
	case 1:
		ip = fields[0]
	case 2:
		name, ip = fields[0], fields[1]
	default:
		return hint{}, fmt.Errorf("%q is not \"ip\" or \"name ip\" (e.g. \"a.root-servers.net 198.41.0.4\")", s)
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]"))
	if err != nil {
		return hint{}, fmt.Errorf("%q: %q is not an IP address", s, ip)
	}
	a = a.Unmap()
	if a.Zone() != "" {
		return hint{}, fmt.Errorf("%q: zoned addresses are not supported", s)
	}
	if !a.IsGlobalUnicast() && !a.IsLoopback() {
		return hint{}, fmt.Errorf("%q: %s cannot be a root server", s, a)
	}
	if name == "" {
		name = "hint-" + strings.NewReplacer(".", "-", ":", "-").Replace(a.String()) + ".root-hints.invalid."
	} else {
		if _, ok := dns.IsDomainName(name); !ok {
			return hint{}, fmt.Errorf("%q: %q is not a host name", s, name)
		}
		name = dns.CanonicalName(name)
	}
	return hint{name: name, addr: a}, nil
}

// sharedSpace is RFC 6598's carrier-grade NAT range: not routed on the
// Internet, often the operator's own network.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// isInternal reports addresses of the resolver's own surroundings rather
// than of the Internet: private, shared (CGNAT) and link-local unicast
// (the cloud metadata service lives at 169.254.169.254).
func isInternal(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLinkLocalUnicast() || sharedSpace.Contains(a)
}
