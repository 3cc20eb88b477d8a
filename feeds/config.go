package feeds

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// ListConfig is one entry of `blocklists:` or `allowlists:` in the YAML config.
type ListConfig struct {
	Name string `yaml:"name"`
	// Source is "file:PATH" (relative paths resolve against Loader.BaseDir)
	// or "builtin:NAME" (a file NAME in Loader.Builtin).
	Source string `yaml:"source"`
	// Format is auto (the default), domains or hosts.
	Format string `yaml:"format"`
	// Action is the block answer: nxdomain (the default), nodata, null,
	// sinkhole, refused or drop. It must be empty for allow lists.
	Action string `yaml:"action"`
	// Category is free text for logs and metrics, e.g. phishing; it
	// defaults to the list name.
	Category string `yaml:"category"`
	// Refresh is validated (>= 0) now and used by the later refresh work.
	Refresh time.Duration `yaml:"refresh"`
	// Sinkhole holds the addresses answered for action sinkhole (at least
	// one, IPv4 and/or IPv6); it is not allowed with any other action.
	Sinkhole []string `yaml:"sinkhole"`
}

// maxLists is how many lists fit in blocklist.Payload.List.
const maxLists = math.MaxUint16 + 1

// Validate returns every problem with c, each a *cfgerr.Error whose Path is
// path + ".field", e.g. "blocklists[2].action". allow says whether c is an
// allow list. Whether the source can be read is Load's business.
func (c *ListConfig) Validate(path string, allow bool) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	switch {
	case c.Name == "":
		add("name", "must not be empty")
	case strings.TrimSpace(c.Name) != c.Name:
		add("name", "%q has leading or trailing spaces", c.Name)
	}
	if _, _, err := splitSource(c.Source); err != nil {
		add("source", "%v", err)
	}
	switch c.Format {
	case "", FormatAuto, FormatDomains, FormatHosts:
	case "adblock", "rpz":
		add("format", "%q is not supported yet; use auto, domains or hosts", c.Format)
	default:
		add("format", "unknown format %q; use auto, domains or hosts", c.Format)
	}
	action, actionOK := blocklist.ActionNXDomain, true
	switch {
	case allow && c.Action != "":
		add("action", "allow lists take no action (got %q); remove the key", c.Action)
	case c.Action != "":
		a, ok := blocklist.ParseAction(c.Action)
		if actionOK = ok; !ok {
			add("action", "unknown action %q; use nxdomain, nodata, null, sinkhole, refused or drop", c.Action)
		}
		action = a
	}
	if c.Refresh < 0 {
		add("refresh", "must not be negative (got %s)", c.Refresh)
	}
	switch {
	case !allow && action == blocklist.ActionSinkhole && len(c.Sinkhole) == 0:
		add("sinkhole", "action sinkhole needs at least one IP address")
	case allow && len(c.Sinkhole) > 0:
		add("sinkhole", "allow lists take no sinkhole addresses; remove the key")
	case actionOK && action != blocklist.ActionSinkhole && len(c.Sinkhole) > 0:
		add("sinkhole", "only used with action sinkhole (action is %q)", action)
	default:
		for i, s := range c.Sinkhole {
			if _, err := parseSinkhole(s); err != nil {
				errs = append(errs, cfgerr.New(cfgerr.Index(cfgerr.Join(path, "sinkhole"), i), "%v", err))
			}
		}
	}
	return errs
}

// parseSinkhole parses one sinkhole address; a zone makes no sense in an
// answer, so it is refused.
func parseSinkhole(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone, which cannot be answered", s)
	}
	return a.Unmap(), nil
}

// ValidateLists validates both sections at once, because list names must be
// unique across them (logs and metrics name lists, not sections). It
// returns every error found.
func ValidateLists(blocks, allows []ListConfig) []error {
	var errs []error
	seen := map[string]string{} // name -> path of its first use
	check := func(section string, lists []ListConfig, allow bool) {
		for i := range lists {
			p := cfgerr.Index(section, i)
			errs = append(errs, lists[i].Validate(p, allow)...)
			name := lists[i].Name
			if name == "" {
				continue
			}
			if first, dup := seen[name]; dup {
				errs = append(errs, cfgerr.New(cfgerr.Join(p, "name"), "duplicate list name %q (first used at %s)", name, first))
				continue
			}
			seen[name] = cfgerr.Join(p, "name")
		}
	}
	check("blocklists", blocks, false)
	check("allowlists", allows, true)
	if n := len(blocks) + len(allows); n > maxLists {
		errs = append(errs, cfgerr.New("allowlists", "%d lists configured in blocklists and allowlists together; at most %d are supported", n, maxLists))
	}
	return errs
}
