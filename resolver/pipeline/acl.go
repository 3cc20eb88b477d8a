package pipeline

import (
	"net/netip"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/netprefix"
)

// DefaultACL is who may query a resolver whose config has no `acl:` section:
// loopback and the private ranges, so that no install is an open resolver
// by accident (open resolvers are amplification weapons).
func DefaultACL() []string {
	return []string{
		"127.0.0.0/8", "::1/128", // loopback
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", // RFC 1918
		"100.64.0.0/10",               // RFC 6598 shared address space (CGNAT)
		"169.254.0.0/16", "fe80::/10", // link-local
		"fc00::/7", // RFC 4193 unique local
	}
}

// ACLConfig is the `acl:` section: which client networks are served.
type ACLConfig struct {
	// Allow lists the client networks (CIDR; a bare address is a /32 or
	// /128) that may query. Unset means DefaultACL.
	Allow []string `yaml:"allow"`
	// Action is what everyone else gets: "refuse" (REFUSED, the default)
	// or "drop" (silence, which tells a scanner nothing).
	Action string `yaml:"action"`
}

// SetDefaults fills in unset values.
func (c *ACLConfig) SetDefaults() {
	if c.Allow == nil {
		c.Allow = DefaultACL()
	}
	if c.Action == "" {
		c.Action = "refuse"
	}
}

// Validate reports every invalid value in the section.
func (c *ACLConfig) Validate(path string) []error {
	var errs []error
	for i, s := range c.Allow {
		if _, err := parsePrefix(s); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "allow"), i), "%q is not a CIDR network or address", s))
		}
	}
	if c.Action != "refuse" && c.Action != "drop" {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "action"), "%q is not refuse or drop", c.Action))
	}
	return errs
}

func parsePrefix(s string) (netip.Prefix, error) { return netprefix.Parse(s) }

// acl is a compiled ACLConfig. Lists are short (a handful of networks), so
// a linear scan beats any index.
type acl struct {
	v4, v6 []netip.Prefix
	drop   bool
}

func newACL(c ACLConfig) (*acl, error) {
	a := &acl{drop: c.Action == "drop"}
	for _, s := range c.Allow {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4() {
			a.v4 = append(a.v4, p)
		} else {
			a.v6 = append(a.v6, p)
		}
	}
	return a, nil
}

// allowed reports whether client may query.
func (a *acl) allowed(client netip.Addr) bool {
	client = client.Unmap()
	list := a.v6
	if client.Is4() {
		list = a.v4
	}
	for _, p := range list {
		if p.Contains(client) {
			return true
		}
	}
	return false
}
