package pipeline

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/yamlx"
)

// RateLimitConfig is the `ratelimit:` section: a token bucket per client
// network for UDP queries, as BIND's and Unbound's rate limiting do. Only UDP
// is limited: its source addresses can be spoofed, which is what makes
// reflection attacks work; TCP clients are real and bounded by the
// connection limits instead.
//
// It is on by default with a limit chosen for clients behind NAT
// (DefaultRate), and error answers — REFUSED above all, which every
// address outside the ACL gets — have a bucket of their own (ErrorsRate),
// as BIND's errors-per-second: without it a spoofed flood is reflected
// 1:1 at its victim, since refusals take no token of the query bucket.
type RateLimitConfig struct {
	// Rate is the sustained queries per second allowed per client network;
	// unset means DefaultRate, 0 (written in the YAML) turns the query
	// bucket off.
	Rate float64 `yaml:"rate"`
	// Burst is the bucket size; default 2 × Rate.
	Burst int `yaml:"burst"`
	// ErrorsRate is the error answers (REFUSED, FORMERR, NOTIMP, BADVERS)
	// per second allowed per client network, whether or not the client is
	// inside the ACL, with a bucket of 2 × ErrorsRate; past it they are
	// dropped, since a TC=1 answer is no smaller than a refusal. Unset
	// means DefaultErrorsRate, 0 (written in the YAML) turns it off.
	ErrorsRate float64 `yaml:"errors_rate"`
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
	// Exempt lists networks never limited (BIND's exempt-clients); default
	// loopback, which no packet from the network can carry as its source
	// (the kernel drops such martians), so that local tools — health
	// checks, a dnsdist on the same host, dnsperf — are not limited.
	Exempt []string `yaml:"exempt"`

	decoded bool // set by UnmarshalYAML: a zero rate was written on purpose
}

// Defaults of the ratelimit section.
const (
	// DefaultRate is generous on purpose: clients behind a NAT share its
	// address, and the limit applies per /24. A carrier-grade NAT puts up
	// to a few thousand subscribers on one public address, and a /24 of
	// such addresses carries tens of thousands, at some 0.1–0.3 queries/s
	// each at peak: about 10,000 queries/s. An over-limit client is not
	// refused but truncated, so a real one retries over TCP.
	DefaultRate = 10000
	// DefaultErrorsRate bounds refusals to what no real client network
	// needs (a resolver's ordinary answers are not errors), which caps the
	// 1:1 reflection of REFUSED at 100 answers/s per victim network.
	DefaultErrorsRate = 100
)

// defaultExempt is loopback: see RateLimitConfig.Exempt.
var defaultExempt = []string{"127.0.0.0/8", "::1/128"}

// DefaultRateLimitConfig is the section used when it is absent.
func DefaultRateLimitConfig() RateLimitConfig {
	c := RateLimitConfig{}
	c.SetDefaults()
	return c
}

// UnmarshalYAML decodes the section on top of the defaults, so that keys
// left out get defaults and a rate written as 0 stays 0 (off).
func (c *RateLimitConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain RateLimitConfig // no methods: avoids recursing into UnmarshalYAML
	p := plain(DefaultRateLimitConfig())
	p.Burst = 0 // derived from the rate the YAML gives
	if err := yamlx.DecodeStrict(n, &p, "pipeline.RateLimitConfig"); err != nil {
		return err
	}
	*c = RateLimitConfig(p)
	c.decoded = true
	c.SetDefaults()
	return nil
}

// SetDefaults fills in unset values. The rates and Exempt are left alone
// in a section decoded from YAML, where a zero was written on purpose.
func (c *RateLimitConfig) SetDefaults() {
	if !c.decoded {
		yamlx.Defaults(c, RateLimitConfig{Rate: DefaultRate, ErrorsRate: DefaultErrorsRate, Exempt: append([]string(nil), defaultExempt...)})
	}
	yamlx.Defaults(c, RateLimitConfig{Burst: max(int(2*c.Rate), 1), Action: "truncate", IPv4Prefix: 24, IPv6Prefix: 56, MaxClients: 100000})
}

// Validate reports every invalid value in the section.
func (c *RateLimitConfig) Validate(path string) []error {
	var errs []error
	errs = cfgerr.AtLeast(errs, path, "rate", c.Rate, 0)
	errs = cfgerr.AtLeast(errs, path, "burst", c.Burst, 0)
	errs = cfgerr.AtLeast(errs, path, "errors_rate", c.ErrorsRate, 0)
	if c.Action != "truncate" && c.Action != "drop" {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "action"), "%q is not truncate or drop", c.Action))
	}
	if c.IPv4Prefix < 1 || c.IPv4Prefix > 32 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "ipv4_prefix"), "%d is outside 1-32", c.IPv4Prefix))
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		errs = append(errs, cfgerr.New(cfgerr.Join(path, "ipv6_prefix"), "%d is outside 1-128", c.IPv6Prefix))
	}
	errs = cfgerr.AtLeast(errs, path, "max_clients", c.MaxClients, 1)
	for i, e := range c.Exempt {
		if _, err := netip.ParsePrefix(e); err != nil {
			errs = append(errs, cfgerr.New(fmt.Sprintf("%s[%d]", cfgerr.Join(path, "exempt"), i), "%q is not a network (e.g. 127.0.0.0/8)", e))
		}
	}
	return errs
}

// limiterShards spreads the bucket table over several locks so that two
// cores serving different clients rarely contend.
const limiterShards = 16

// limiter holds one token bucket per client network in a bounded LRU.
type limiter struct {
	rate   float64
	burst  int
	v4, v6 int // prefix lengths grouping clients
	exempt []netip.Prefix
	clock  clock.Clock
	seed   maphash.Seed
	shards [limiterShards]struct {
		mu      sync.Mutex // guards creation of a bucket, not its use
		buckets *lru.Cache[netip.Prefix, *rate.Limiter]
	}
}

// newLimiter returns the query bucket of cfg, nil when it is off.
func newLimiter(cfg RateLimitConfig, clk clock.Clock) *limiter {
	return newBuckets(cfg, cfg.Rate, cfg.Burst, clk)
}

// newErrorsLimiter returns the error answers' bucket of cfg, nil when it
// is off.
func newErrorsLimiter(cfg RateLimitConfig, clk clock.Clock) *limiter {
	return newBuckets(cfg, cfg.ErrorsRate, max(int(2*cfg.ErrorsRate), 1), clk)
}

func newBuckets(cfg RateLimitConfig, r float64, burst int, clk clock.Clock) *limiter {
	if r <= 0 {
		return nil
	}
	l := &limiter{rate: r, burst: burst, v4: cfg.IPv4Prefix, v6: cfg.IPv6Prefix, clock: clk, seed: maphash.MakeSeed()}
	for _, e := range cfg.Exempt {
		if p, err := netip.ParsePrefix(e); err == nil {
			l.exempt = append(l.exempt, p.Masked())
		}
	}
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
	for _, p := range l.exempt {
		if p.Contains(client) {
			return true
		}
	}
	bits := l.v6
	if client.Is4() {
		bits = l.v4
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
			b = rate.NewLimiter(rate.Limit(l.rate), l.burst)
			sh.buckets.Add(key, b)
		}
		sh.mu.Unlock()
	}
	return b.AllowN(l.clock.Now(), 1)
}
