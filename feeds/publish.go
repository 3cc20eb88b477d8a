package feeds

import (
	"context"
	"time"
)

// accept makes c the list's current copy, confirmed by its source at
// checked, and asks for a rebuild.
func (m *Manager) accept(f *feed, c *feedCopy, checked time.Time) {
	f.mu.Lock()
	f.good, f.checked, f.lastErr = c, checked, nil
	f.mu.Unlock()
	m.met().copyInUse(f.spec.info.Name, c)
	m.met().success(f.spec.info.Name, checked)
	m.version.Add(1)
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

// builder rebuilds the merged table whenever a copy changed, one build at
// a time; changes arriving during a build are coalesced into the next.
func (m *Manager) builder(ctx context.Context) {
	defer m.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.dirty:
			_ = m.rebuild()
		}
	}
}

// rebuild merges the current copies and publishes the table, unless
// nothing changed since the last build. Queries keep reading the old
// table until the pointer swap; a failed build keeps it. The snapshots of
// the copies it published are written after it, in the background.
func (m *Manager) rebuild() error {
	m.buildMu.Lock()
	defer m.buildMu.Unlock()
	v := m.version.Load()
	if m.tables.Load() != nil && v == m.built {
		return nil
	}
	copies := make([]*feedCopy, len(m.feeds))
	complete := true
	now := m.clock.Now()
	for i, f := range m.feeds {
		copies[i] = f.current().liveAt(now) // expired indicators drop out (intel.go)
		complete = complete && copies[i] != nil
	}
	start := time.Now()
	done := m.building()
	t, dropped, err := merge(m.specs, copies, m.categories)
	done()
	if err != nil {
		m.met().buildFailed()
		m.log.Error("blocklist build failed; keeping the one being served", "err", err)
		return err
	}
	if dropped > 0 {
		m.log.Error("blocklist build dropped invalid rules (a parser bug)", "rules", dropped)
	}
	took := time.Since(start)
	m.rules.Store(&Rules{table: t, specs: m.specs, copies: copies})
	m.tables.Store(t)
	m.buildTook.Store(int64(took))
	m.liveAt.Store(now.UnixNano())
	m.built = v
	m.complete.Store(complete)
	m.met().published(t, took)
	m.log.Info("blocklist published", "lists", len(t.Lists), "rules", t.Set.Len(), "bytes", t.Set.SizeBytes(), "took", took.Round(time.Millisecond))
	if m.onPublish != nil {
		m.onPublish(t)
	}
	m.flushSnapshots()
	return nil
}
