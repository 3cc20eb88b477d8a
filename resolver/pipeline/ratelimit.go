package pipeline

import (
	"hash/maphash"
	"net/netip"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/clock"
)

// RateLimitConfig is the `ratelimit:` section: a token bucket per client
// network for UDP queries, as BIND's and Unbound's rate limiting do. Only UDP
// is limited: its source addresses can be spoofed, which is what makes
// reflection attacks work; TCP clients are real and bounded by the
// connection limits instead.
type RateLimitConfig struct {
	// Rate is the sustained queries per second allowed per client network;
	// 0 turns rate limiting off.
	Rate float64 `yaml:"rate"`
	// Burst is the bucket size; default 2 × Rate.
	Burst int `yaml:"burst"`
	// Action for an over-limit query: "truncate" (an empty TC=1 answer, so
	// a real client retries over TCP while a spoofed victim gets nothing
	// larger than the query; the default) or "drop".
	Action string `yaml:"action"`
	// IPv4Prefix and IPv6Prefix group clients into networks; defaults /24
	// and /56 (a typical residential IPv6 delegation).
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// MaxClients bounds the buckets kept (least recently used go first), so
	// a flood from random sources cannot exhaust memory.
	MaxClients int `yaml:"max_clients"`
}

// SetDefaults fills in unset values.
func (c *RateLimitConfig) SetDefaults() {
	if c.Burst == 0 {
		c.Burst = int(2 * c.Rate)
		if c.Burst < 1 {
			c.Burst = 1
		}
	}
	if c.Action == "" {
		c.Action = "truncate"
	}
	if c.IPv4Prefix == 0 {
		c.IPv4Prefix = 24
	}
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = 56
	}
	if c.MaxClients == 0 {
		c.MaxClients = 100000
	}
}

// Validate reports every invalid value in the section.
func (c *RateLimitConfig) Validate(path string) []error {
	var errs []error
	if c.Rate < 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "rate"), "must not be negative"))
	}
	if c.Burst < 0 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "burst"), "must not be negative"))
	}
	if c.Action != "truncate" && c.Action != "drop" {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "action"), "%q is not truncate or drop", c.Action))
	}
	if c.IPv4Prefix < 1 || c.IPv4Prefix > 32 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "ipv4_prefix"), "%d is outside 1-32", c.IPv4Prefix))
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "ipv6_prefix"), "%d is outside 1-128", c.IPv6Prefix))
	}
	if c.MaxClients < 1 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "max_clients"), "must be at least 1"))
	}
	return errs
}

// limiterShards spreads the bucket table over several locks so that two
// cores serving different clients rarely contend.
const limiterShards = 16

// limiter holds one token bucket per client network in a bounded LRU.
type limiter struct {
	cfg    RateLimitConfig
	clock  clock.Clock
	seed   maphash.Seed
	shards [limiterShards]struct {
		mu      sync.Mutex // guards creation of a bucket, not its use
		buckets *lru.Cache[netip.Prefix, *rate.Limiter]
	}
}

func newLimiter(cfg RateLimitConfig, clk clock.Clock) *limiter {
	if cfg.Rate <= 0 {
		return nil
	}
	l := &limiter{cfg: cfg, clock: clk, seed: maphash.MakeSeed()}
	per := cfg.MaxClients / limiterShards
	if per < 1 {
		per = 1
	}
	for i := range l.shards {
		l.shards[i].buckets, _ = lru.New[netip.Prefix, *rate.Limiter](per)
	}
	return l
}

// allow takes a token from client's bucket, reporting whether there was one.
func (l *limiter) allow(client netip.Addr) bool {
	client = client.Unmap()
	bits := l.cfg.IPv6Prefix
	if client.Is4() {
		bits = l.cfg.IPv4Prefix
	}
	key, err := client.Prefix(bits)
	if err != nil {
		return true
	}
	sh := &l.shards[maphash.Comparable(l.seed, key)%limiterShards]
	b, ok := sh.buckets.Get(key)
	if !ok {
		sh.mu.Lock()
		if b, ok = sh.buckets.Get(key); !ok {
			b = rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
			sh.buckets.Add(key, b)
		}
		sh.mu.Unlock()
	}
	return b.AllowN(l.clock.Now(), 1)
}
