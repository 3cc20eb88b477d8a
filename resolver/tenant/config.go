// Package tenant is who a query is answered for: the organisations (public
// bodies, ISP customers, products) that share one Bulwark, each with its own
// choice of the shared lists, its own exceptions and actions, and its own log
// policy. It owns the `tenants:` section and `tenant_ecs:`, and selects the
// tenant of a query from its client address, an id in the DoH path or the
// TLS server name, or the EDNS Client Subnet a trusted forwarder sent.
//
// Lists are loaded once and shared: a tenant is a view (a bitmask over list
// indexes) on the one table, never a copy of it.
package tenant

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/netprefix"
)

// Config is one entry of `tenants:`. Names and keys are a contract with
// operators: extend, don't rename.
type Config struct {
	// Name identifies the tenant in logs, metrics and explain; it is a
	// label value, so it is short and plain.
	Name string `yaml:"name"`
	// Clients are the tenant's source networks (the real client, after
	// PROXY): the most specific network of any tenant wins.
	Clients []string `yaml:"clients"`
	// IDs select the tenant from the DoH path /dns-query/<id> or the TLS
	// server name <id>.<server name>; an id beats a network.
	IDs []string `yaml:"ids"`
	// Blocklists names which configured block lists apply; unset means
	// all of them, [] means none.
	Blocklists []string `yaml:"blocklists"`
	// Allowlists names which configured allow lists apply; unset means
	// the allow lists no tenant names (those the default policy uses).
	Allowlists []string `yaml:"allowlists"`
	// Actions overrides the action of some of the tenant's block lists,
	// e.g. {phishing: sinkhole} to send the tenant's users to its own
	// block page.
	Actions map[string]string `yaml:"actions"`
	// Sinkhole holds the addresses a sinkhole override answers; unset,
	// the list's own sinkhole addresses.
	Sinkhole []string `yaml:"sinkhole"`
	// Log is the tenant's log policy.
	Log LogConfig `yaml:"log"`
}

// LogConfig is a tenant's `log:`.
type LogConfig struct {
	// Client is how the client address is written in the tenant's log
	// lines: full, truncate (to the /24 or /56), hash, or omit; unset,
	// the global setting.
	Client string `yaml:"client"`
}

// Client address log modes.
const (
	LogFull     = "full"
	LogTruncate = "truncate"
	LogHash     = "hash"
	LogOmit     = "omit"
)

// ECSConfig is `tenant_ecs:`: which forwarders may say, with EDNS Client
// Subnet (RFC 7871), whose query they forward. Off by default: from anyone
// else an ECS option is the client's claim about itself.
type ECSConfig struct {
	// Trusted lists the forwarder networks whose ECS option selects the
	// tenant.
	Trusted []string `yaml:"trusted"`
}

// ListRef is what validation and compilation need of one configured list,
// given in list index order (block lists first, then allow lists, as
// blocklist.Payload.List numbers them).
type ListRef struct {
	Name  string
	Allow bool
	// Sinkhole says the list has its own sinkhole addresses.
	Sinkhole bool
}

// Refs returns the refs of a table's lists, in index order.
func Refs(lists []blocklist.ListInfo) []ListRef {
	out := make([]ListRef, len(lists))
	for i, l := range lists {
		out[i] = ListRef{Name: l.Name, Allow: l.Allow, Sinkhole: len(l.Sinkhole) > 0}
	}
	return out
}

// Validate reports every problem of the tenants section at path (e.g.
// "tenants") against the configured lists.
func Validate(path string, ts []Config, lists []ListRef) []error {
	var errs []error
	add := func(p, format string, args ...any) { errs = append(errs, cfgerr.New(p, format, args...)) }
	byName := map[string]ListRef{}
	for _, l := range lists {
		byName[l.Name] = l
	}
	names := cfgerr.Firsts[string]{}      // tenant name -> its path
	ids := cfgerr.Firsts[string]{}        // id -> path of its first use
	nets := cfgerr.Firsts[netip.Prefix]{} // network -> path of its first use
	for i := range ts {
		t := &ts[i]
		tp := cfgerr.Index(path, i)
		switch {
		case t.Name == "":
			add(cfgerr.Join(tp, "name"), "must not be empty")
		case !plainName(t.Name):
			add(cfgerr.Join(tp, "name"), "%q may hold only letters, digits, '.', '-' and '_' (it is a metric label), at most 64", t.Name)
		default:
			if first, ok := names.Claim(t.Name, cfgerr.Join(tp, "name")); !ok {
				add(cfgerr.Join(tp, "name"), "duplicate tenant name %q (first used at %s)", t.Name, first)
			}
		}
		if len(t.Clients) == 0 && len(t.IDs) == 0 {
			add(tp, "tenant %q matches no query: give clients, ids, or both", t.Name)
		}
		for j, s := range t.Clients {
			p := cfgerr.Index(cfgerr.Join(tp, "clients"), j)
			if pfx, err := netprefix.Parse(s); err != nil {
				add(p, "%q is not a CIDR network or address", s)
			} else if first, ok := nets.Claim(pfx, p); !ok {
				add(p, "network %s is already a client network at %s", pfx, first)
			}
		}
		for j, id := range t.IDs {
			p := cfgerr.Index(cfgerr.Join(tp, "ids"), j)
			if !validID(id) {
				add(p, "id %q must be one DNS label in lower case (a-z, 0-9, '-'; at most 63), as it is the first label of the server name", id)
			} else if first, ok := ids.Claim(id, p); !ok {
				add(p, "duplicate id %q (first used at %s)", id, first)
			}
		}
		checkNames := func(key string, list []string, allow bool) map[string]bool {
			in := map[string]bool{}
			for j, n := range list {
				p := cfgerr.Index(cfgerr.Join(tp, key), j)
				l, ok := byName[n]
				switch {
				case !ok:
					add(p, "unknown list %q: not configured in blocklists or allowlists", n)
				case l.Allow != allow && allow:
					add(p, "%q is a block list; name it under blocklists", n)
				case l.Allow != allow:
					add(p, "%q is an allow list; name it under allowlists", n)
				case in[n]:
					add(p, "list %q is named twice", n)
				}
				in[n] = true
			}
			return in
		}
		blocks := checkNames("blocklists", t.Blocklists, false)
		checkNames("allowlists", t.Allowlists, true)
		for _, s := range t.Sinkhole {
			if _, err := netip.ParseAddr(s); err != nil {
				add(cfgerr.Join(tp, "sinkhole"), "%q is not an IP address", s)
			}
		}
		for _, list := range slices.Sorted(maps.Keys(t.Actions)) {
			act := t.Actions[list]
			p := cfgerr.Join(cfgerr.Join(tp, "actions"), list)
			l, ok := byName[list]
			switch {
			case !ok:
				add(p, "unknown list %q: not configured in blocklists", list)
				continue
			case l.Allow:
				add(p, "%q is an allow list; only block lists have an action", list)
				continue
			case t.Blocklists != nil && !blocks[list]:
				add(p, "list %q is not one of the tenant's blocklists", list)
				continue
			}
			a, ok := blocklist.ParseAction(act)
			if !ok {
				hint := ""
				if act == "" {
					hint = ` (YAML reads a bare null as no value: write "null" in quotes)`
				}
				add(p, "%q is not one of nxdomain, nodata, null, sinkhole, refused, drop%s", act, hint)
				continue
			}
			if a == blocklist.ActionSinkhole && len(t.Sinkhole) == 0 && !l.Sinkhole {
				add(p, "sinkhole needs addresses: set the tenant's sinkhole or the list's")
			}
		}
		switch t.Log.Client {
		case "", LogFull, LogTruncate, LogHash, LogOmit:
		default:
			add(cfgerr.Join(cfgerr.Join(tp, "log"), "client"), "%q is not one of full, truncate, hash, omit", t.Log.Client)
		}
	}
	return errs
}

// Validate reports every invalid value of `tenant_ecs:` at path.
func (c *ECSConfig) Validate(path string) []error {
	var errs []error
	for i, s := range c.Trusted {
		if _, err := netprefix.Parse(s); err != nil {
			errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "trusted"), i), "%q is not a CIDR network or address", s))
		}
	}
	return errs
}

// plainName: a tenant name is a metric label value and a log field.
func plainName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validID: an id is one lower-case DNS label (it is matched as the first
// label of the TLS server name, and in a URL path).
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
