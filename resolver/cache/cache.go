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

// Cache is the cache step: a contract.Resolver in front of next. It is safe
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
	if m == nil {
		m = NewMetrics(nil)
	}
	c := &Cache{cfg: cfg, next: next, clk: clk, m: m, log: logger, sem: make(chan struct{}, maxBackground),
		workers: gopool.New(0)}
	c.bg, c.stop = context.WithCancel(context.Background())
	if cfg.Size > 0 {
		c.store = newStore(cfg.Size, cfg.MaxBytes, cfg.MaxEntryBytes)
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
// returned message is the caller's; it is nil, with no error, when the
// answer went to req.Wire instead (contract.WireAnswer).
func (c *Cache) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	if c.store == nil {
		return c.next.Resolve(ctx, req)
	}
	k := c.key(req)
	now := c.clk.Now().UnixNano()
	var stale *entry
	sh, i := c.store.lookup(k)
	if i != nilSlot {
		s := sh.at(i)
		switch {
		case !s.expired(now):
			pf, m := c.touch(s, k, now)
			var msg *dns.Msg // nil: served in wire form
			if !serveWire(req, &s.meta, sh.body(i), s.age(now), false) {
				msg = c.decode(sh, i, req, s.age(now), false)
			}
			sh.mu.Unlock()
			c.hit(pf, m, k, req)
			return msg, nil
		case s.staleUsable(now, c.cfg.StaleMax):
			if now < s.retryAt {
				var msg *dns.Msg
				if !serveWire(req, &s.meta, sh.body(i), 0, true) {
					msg = c.decode(sh, i, req, 0, true)
				}
				sh.mu.Unlock()
				c.m.staleServed.Inc() // the next step failed moments ago: don't hammer it
				return msg, nil
			}
			stale = &entry{meta: s.meta, body: append([]byte(nil), sh.body(i)...)}
			sh.mu.Unlock()
		default:
			gen := s.gen
			sh.mu.Unlock()
			c.remove(k, gen)
		}
	} else {
		sh.mu.Unlock()
	}
	c.m.misses.Inc()
	return c.fetch(ctx, k, req, stale)
}

// decode answers req from slot i of sh, whose lock the caller holds. The
// common shapes are built straight from the arena; the others are copied
// out first, the copy being what miekg/dns unpacks.
func (c *Cache) decode(sh *shard, i int32, req *contract.Request, age uint32, stale bool) *dns.Msg {
	s := sh.at(i)
	if m := response(&s.meta, sh.body(i), req, age, stale); m != nil {
		return m
	}
	return servfail(req) // newEntry checked the body decodes: not reached
}

// servfail is the answer when a stored body does not decode.
func servfail(req *contract.Request) *dns.Msg {
	m := new(dns.Msg)
	if req.Msg != nil {
		m.SetRcode(req.Msg, dns.RcodeServerFailure)
	}
	m.Response, m.Rcode = true, dns.RcodeServerFailure
	m.Question = []dns.Question{req.Question}
	return m
}

// touch counts a fresh hit on s, under its shard's lock, and reports whether
// the hit starts a prefetch (then marked on s), with s's metadata for it.
func (c *Cache) touch(s *slot, k key, now int64) (bool, meta) {
	// A prefetch asks without a client, so it cannot ask for a subnet.
	if !c.cfg.prefetch() || k.subnet.IsValid() || s.kind == kindServfail {
		return false, meta{}
	}
	// Count only up to the threshold.
	if s.hits < prefetchHits {
		if s.hits++; s.hits < prefetchHits {
			return false, meta{}
		}
	}
	left := s.life - (now - s.stored)
	if left*prefetchWindow > s.life || s.prefetching {
		return false, meta{}
	}
	s.prefetching = true
	return true, s.meta
}

// hit counts a fresh hit and starts the prefetch touch asked for.
func (c *Cache) hit(prefetch bool, m meta, k key, req *contract.Request) {
	c.m.hits.Inc()
	if prefetch {
		c.prefetch(m, k, req)
	}
}

// Bytes returns what the entries take as counted against max_bytes.
func (c *Cache) Bytes() int {
	if c.store == nil {
		return 0
	}
	return c.store.size()
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
// cache's entries from bulwark_cache_entries and bulwark_cache_bytes (a reload replaces the Cache
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
		c.m.entries.Sub(float64(c.store.len()))
		c.m.bytes.Sub(float64(c.store.size()))
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
	c.count(c.store.put(k, e))
}

// remove drops an entry past its serve-stale window, unless closed.
func (c *Cache) remove(k key, gen uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.closed {
		c.count(c.store.remove(k, gen))
	}
}

// count adds a store operation's change to the series, skipping the
// deltas that are zero: most puts evict nothing, and each Add is an atomic
// update of a cache line every core's misses share.
func (c *Cache) count(ch change) {
	if ch.entries != 0 {
		c.m.entries.Add(float64(ch.entries))
	}
	if ch.bytes != 0 {
		c.m.bytes.Add(float64(ch.bytes))
	}
	if ch.evicted > 0 {
		c.m.evictions.Add(float64(ch.evicted))
	}
}
