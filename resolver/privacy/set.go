package privacy

import (
	"fmt"
	"sort"
)

// Set is the maskers of one destination (the block log, the query log,
// dnstap): the destination's own mode, and the mode of each tenant that
// chose one (`tenants[].log.client`), which wins for that tenant's
// records. A tenant's mode uses the destination's parameters (prefixes,
// key, rotation). Immutable once built; a nil Set is Full for everyone.
type Set struct {
	def     *Masker
	tenants map[string]*Masker
}

// NewSet builds the Set of a destination whose setting is cfg; tenants
// maps tenant names to their mode ("" entries follow cfg). cfg must have
// passed Validate; a tenant's mode is checked here, since tenants are
// validated in their own section.
func NewSet(cfg Config, tenants map[string]string) (*Set, error) {
	byMode := map[string]*Masker{}
	get := func(mode string) (*Masker, error) {
		if m, ok := byMode[mode]; ok {
			return m, nil
		}
		c := cfg
		c.Client = mode
		m, err := New(c)
		if err != nil {
			return nil, err
		}
		byMode[mode] = m
		return m, nil
	}
	def, err := get(cfg.Client)
	if err != nil {
		return nil, err
	}
	s := &Set{def: def}
	names := make([]string, 0, len(tenants))
	for name := range tenants {
		names = append(names, name)
	}
	sort.Strings(names) // the first bad tenant named is always the same one
	for _, name := range names {
		mode := tenants[name]
		if mode == "" {
			continue
		}
		m, err := get(mode)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: log client: %w", name, err)
		}
		if s.tenants == nil {
			s.tenants = map[string]*Masker{}
		}
		s.tenants[name] = m
	}
	return s, nil
}

// For returns the masker of a record of tenant ("" for the default
// policy): the tenant's own mode if it chose one, else the destination's.
func (s *Set) For(tenant string) *Masker {
	if s == nil {
		return nil
	}
	if tenant != "" {
		if m, ok := s.tenants[tenant]; ok {
			return m
		}
	}
	return s.def
}
