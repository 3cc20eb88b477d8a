package feeds

import (
	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/cfgerr"
)

// ActionPassthru is the action_override that turns every rule of a list
// into an exception of that list (an RPZ "passthru" zone).
const ActionPassthru = "passthru"

// validatePolicy checks action_override and log_only.
func (c *ListConfig) validatePolicy(path string, allow bool) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, key), format, args...))
	}
	if allow {
		if c.ActionOverride != "" {
			add("action_override", "allow lists block nothing to override (got %q); remove the key", c.ActionOverride)
		}
		if c.LogOnly {
			add("log_only", "allow lists cannot be on trial: their exceptions apply or not at all; remove the key")
		}
		return errs
	}
	if _, ok := blocklist.ParseAction(c.ActionOverride); !ok && c.ActionOverride != "" && c.ActionOverride != ActionPassthru {
		add("action_override", "unknown action %q; use nxdomain, nodata, null, sinkhole, refused, drop, tcp-only or passthru", c.ActionOverride)
	}
	return errs
}

// override applies the list's action_override to one parsed entry: a
// block rule takes the forced action (and, for sinkhole, the list's
// addresses rather than the rule's own), exceptions stay exceptions, and
// passthru makes every rule an exception. It changes e in place: an
// Entry is large, and every rule of a list passes here.
func (sp *feedSpec) override(e *Entry) {
	switch o := sp.cfg.ActionOverride; {
	case o == "":
	case o == ActionPassthru:
		e.Allow = true
	case !e.Allow:
		a, _ := blocklist.ParseAction(o) // validated
		e.HasAction, e.Action, e.Addrs = true, a, nil
	}
}
