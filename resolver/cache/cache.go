package cache

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/gopool"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// Tuning that operators have no reason to change.
const (
	// fetchTimeout bounds a query to the next step once it is detached from
	// the client that caused it (coalesced queries and prefetches).
	fetchTimeout = 10 * time.Second
	// staleRetry is RFC 8767's failure recheck timer: after a failed refresh
	// a stale entry is served without asking the next step again for this long.
	staleRetry = 30 * time.Second
	// prefetchHits and prefetchWindow define a popular entry near expiry:
	// hit this often and within the last tenth of its life.
	prefetchHits   = 3
	prefetchWindow = 10
	// maxBackground bounds concurrent prefetches; beyond it they are skipped.
	maxBackground = 16
)

// Cache is the cache step: a resolver.Resolver in front of next. It is safe
// for concurrent use.
type Cache struct {
	cfg    Config
	next   contract.Resolver
	clk    clock.Clock
	m      *Metrics
	log    *slog.Logger
	store  *store // nil when Size is 0: pass-through
	subnet func(*contract.Request) (netip.Prefix, bool)
	// flights coalesces misses; workers runs them and the prefetches.
	flights flights
	workers *gopool.Pool

	// Background prefetches: bounded by sem, stopped by Close.
	bg     context.Context
	stop   context.CancelFunc
	sem    chan struct{}
	mu     sync.RWMutex // closed: writes to the store and wg.Add vs Close
	closed bool
	wg     sync.WaitGroup
}

// New returns a cache of cfg.Size entries in front of next. cfg is used as
// given (call SetDefaults first for a Config built in code); m and logger may
// be nil.
func New(cfg Config, next contract.Resolver, clk clock.Clock, m *Metrics, logger *slog.Logger, opts ...Option) *Cache {
	if clk == nil {
		clk = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{cfg: cfg, next: next, clk: clk, m: m, log: logger, sem: make(chan struct{}, maxBackground),
		workers: gopool.New(0)}
	c.bg, c.stop = context.WithCancel(context.Background())
	if cfg.Size > 0 {
		c.store = newStore(cfg.Size)
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Option tunes a Cache.
type Option func(*Cache)

// WithSubnetKey keys answers also on the EDNS Client Subnet that fn says
// next will send for a request (the forwarder's ClientSubnet), so that an
// answer tailored to one subnet is never served to another (RFC 7871 §7.3).
func WithSubnetKey(fn func(*contract.Request) (netip.Prefix, bool)) Option {
	return func(c *Cache) { c.subnet = fn }
}

// key is the cache key of req.
func (c *Cache) key(req *contract.Request) key {
	k := requestKey(req)
	if c.subnet != nil {
		if p, ok := c.subnet(req); ok {
			k.subnet = p
		}
	}
	return k
}

// Resolve answers req from the cache when it holds a fresh answer, and
// otherwise asks next once for all identical questions in flight. The
// returned message is the caller's (see entry.response for the one caveat:
// RDATA is shared and read-only).
func (c *Cache) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	if c.store == nil {
		return c.next.Resolve(ctx, req)
	}
	k := c.key(req)
	now := c.clk.Now()
	var stale *entry
	if e := c.store.get(k); e != nil {
		switch {
		case !e.expired(now):
			c.hit(e, k, req, now)
			return e.response(req, e.age(now), false), nil
		case e.staleUsable(now, c.cfg.StaleMax):
			if now.UnixNano() < e.retryAt.Load() {
				c.m.stale() // the next step failed moments ago: don't hammer it
				return e.response(req, 0, true), nil
			}
			stale = e
		default:
			c.remove(k, e)
		}
	}
	c.m.miss()
	return c.fetch(ctx, k, req, stale)
}

// hit counts a fresh hit and starts a prefetch if the entry earned one.
func (c *Cache) hit(e *entry, k key, req *contract.Request, now time.Time) {
	c.m.hit()
	// A prefetch asks without a client, so it cannot ask for a subnet.
	if c.cfg.prefetch() && !k.subnet.IsValid() {
		c.maybePrefetch(e, k, req, now)
	}
}

// Len returns the number of entries, including expired ones kept for
// serve-stale.
func (c *Cache) Len() int {
	if c.store == nil {
		return 0
	}
	return c.store.len()
}

// Close stops background prefetches, waits for them, and withdraws the
// cache's entries from bulwark_cache_entries (a reload replaces the Cache
// while the metrics live on). Afterwards the cache still answers from what
// it holds but stores nothing new.
func (c *Cache) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.store != nil {
		c.m.addEntries(-c.store.len())
	}
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
	c.workers.Close()
}

// put stores e unless the cache is closed, keeping the metrics in step.
func (c *Cache) put(k key, e *entry) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return
	}
	added, evicted := c.store.put(k, e)
	if added {
		c.m.addEntries(1)
	}
	if evicted {
		c.m.evict()
	}
}

// remove drops an entry past its serve-stale window, unless closed.
func (c *Cache) remove(k key, e *entry) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.closed && c.store.remove(k, e) {
		c.m.addEntries(-1)
	}
}
