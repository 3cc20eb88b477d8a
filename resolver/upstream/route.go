package upstream

import (
	"strings"

	"github.com/miekg/dns"
)

// route returns the group for name: the conditional domain that is its
// longest suffix (the most specific), else the main list. It allocates
// nothing for lower-case names.
func (f *Forwarder) route(name string) *group {
	if g := f.conditional(name); g != nil {
		return g
	}
	return f.def
}

func (f *Forwarder) conditional(name string) *group {
	if len(f.zones) == 0 {
		return nil
	}
	name = strings.ToLower(name)
	if !dns.IsFqdn(name) {
		name += "."
	}
	for off := 0; ; {
		if g, ok := f.zones[name[off:]]; ok {
			return g
		}
		next, end := dns.NextLabel(name, off)
		if end {
			return nil
		}
		off = next
	}
}

// Covers reports whether name is at or below one of the conditional
// domains, so a recursive resolver can hand those names to the Forwarder.
func (f *Forwarder) Covers(name string) bool { return f.conditional(name) != nil }
