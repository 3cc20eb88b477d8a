package cache

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/internal/promx"
)

// Metrics are the cache's Prometheus series. They are built once and shared
// by every Cache the process makes (a reload makes a new Cache), so they live
// outside Cache. New given nil counts into series of its own, registered
// nowhere (for tests), so the request path counts without a nil check.
type Metrics struct {
	hits        prometheus.Counter
	misses      prometheus.Counter
	evictions   prometheus.Counter
	prefetches  prometheus.Counter
	staleServed prometheus.Counter
	entries     prometheus.Gauge
	bytes       prometheus.Gauge
}

// NewMetrics registers the cache series with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promx.With(reg)
	return &Metrics{
		hits:        f.Counter("bulwark_cache_hits_total", "Queries answered from a fresh cache entry."),
		misses:      f.Counter("bulwark_cache_misses_total", "Queries with no fresh cache entry, passed to the next step."),
		evictions:   f.Counter("bulwark_cache_evictions_total", "Entries evicted because the cache was full (in entries or bytes)."),
		prefetches:  f.Counter("bulwark_cache_prefetches_total", "Background refreshes of popular entries near expiry."),
		staleServed: f.Counter("bulwark_cache_stale_served_total", "Expired answers served because the next step failed (RFC 8767)."),
		entries:     f.Gauge("bulwark_cache_entries", "Entries in the cache, including expired ones kept for serve-stale."),
		bytes:       f.Gauge("bulwark_cache_bytes", "Bytes the cache's entries take (answers in wire form, keys and index), as bounded by cache.max_bytes."),
	}
}
