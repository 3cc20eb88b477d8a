package feeds

import (
	"reflect"
)

// feedFor returns the running feed that serves the same list as sp —
// same name, kind, configuration and effective settings — or nil.
func (m *Manager) feedFor(sp *feedSpec) *feed {
	for _, f := range m.feeds {
		o := f.spec
		if o.info.Name != sp.info.Name {
			continue
		}
		if o.allow != sp.allow || o.refresh != sp.refresh || o.timeout != sp.timeout || o.maxSize != sp.maxSize || o.maxEntries != sp.maxEntries ||
			o.minRatio != sp.minRatio || o.src.String() != sp.src.String() || !reflect.DeepEqual(o.cfg, sp.cfg) {
			return nil
		}
		return f
	}
	return nil
}

// adopt takes over old's copy and history (nil: nothing to take).
func (f *feed) adopt(old *feed) {
	if old == nil {
		return
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if old.good == nil {
		return
	}
	f.good, f.checked, f.attempted, f.lastErr = old.good, old.checked, old.attempted, old.lastErr
	if x, ok := f.spec.src.(adoptingSource); ok {
		x.adoptFrom(old.spec.src) // the zone for the next IXFR, a TAXII or MISP cursor
	}
	f.adopted = true
}
