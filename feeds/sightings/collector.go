// Package sightings reports back which shared threat indicators blocked
// queries: per interval, one STIX 2.1 sighting per indicator that blocked
// at least once (count, first and last time, the operator's or tenant's
// identity), posted to a TAXII 2.1 collection and/or written as bundles to
// a directory, and MISP sightings for lists from a MISP instance. It
// watches block decisions as a query.BlockSink: the query path only
// hands a record to a bounded queue.
package sightings

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// RulesSource gives the copies behind the table being served
// (*feeds.Manager is one).
type RulesSource interface {
	Rules() *feeds.Rules
}

// Options configure a Collector.
type Options struct {
	Config Config
	// Lists are the configured block lists; only the stix and misp ones
	// are watched.
	Lists []feeds.ListConfig
	// BaseDir resolves a relative Dir and "file:" credentials.
	BaseDir string
	Rules   RulesSource
	// MISP are the MISP instances to report to, by list.
	MISP []feeds.MISPSightingTarget
	// Client sends the reports; nil: a client of its own.
	Client  *http.Client
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics
	Version string
	// Poll bounds how long the interval loop sleeps before it reads the
	// clock again (default 1m).
	Poll time.Duration
}

// maxQueue is the intake queue: about a second of a blocked flood.
const maxQueue = 1 << 14

// maxClients bounds the client addresses kept per sighting.
const maxClients = 100

// Collector counts blocks per indicator and reports them each interval.
type Collector struct {
	cfg     Config
	lists   map[string]bool // threat-intelligence list names
	rules   RulesSource
	tenants []tenant
	out     []destination
	clock   clock.Clock
	poll    time.Duration
	log     *slog.Logger
	met     *Metrics

	ch     chan item
	quit   chan struct{}
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once

	started bool
	flushMu sync.Mutex // one report at a time
	// sleep waits between retries; a test hook.
	sleep func(ctx context.Context, d time.Duration) error
}

type tenant struct {
	identity string
	prefixes []netip.Prefix
}

// item is a block, or a request for the counts so far (flush != nil).
type item struct {
	hit   query.BlockHit
	flush chan map[aggKey]*agg
}

// aggKey is one indicator, as reported by one identity.
type aggKey struct {
	kind, id, event string
	list            string
	tenant          int // -1: the operator
}

type agg struct {
	count       int
	first, last time.Time
	clients     map[netip.Addr]struct{}
}

// New builds a Collector; Start runs it. It returns nil, nil when nothing
// is to be reported (no destination and no MISP list with sightings).
func New(o Options) (*Collector, error) {
	cfg := o.Config
	cfg.SetDefaults()
	if errs := cfg.Validate("sightings"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if !cfg.Enabled() && len(o.MISP) == 0 {
		return nil, nil
	}
	c := &Collector{cfg: cfg, lists: map[string]bool{}, rules: o.Rules, clock: o.Clock, poll: o.Poll, log: o.Logger,
		met: o.Metrics, ch: make(chan item, maxQueue), quit: make(chan struct{}), sleep: clock.Sleep}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.poll <= 0 {
		c.poll = time.Minute
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for _, l := range o.Lists {
		if l.Format == feeds.FormatSTIX || l.Format == feeds.FormatMISP {
			c.lists[l.Name] = true
		}
	}
	for _, t := range cfg.Tenants {
		tn := tenant{identity: t.Identity}
		for _, s := range t.Clients {
			p, _ := parseClient(s) // validated
			tn.prefixes = append(tn.prefixes, p)
		}
		c.tenants = append(c.tenants, tn)
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	h := &httpOut{client: client, userAgent: "Bulwark/" + version + " (+https://github.com/bulwark-dns/bulwark)", timeout: cfg.Timeout}
	if cfg.TAXII != nil {
		c.out = append(c.out, newTAXIIOut(*cfg.TAXII, o.BaseDir, h))
	}
	if cfg.Dir != "" {
		c.out = append(c.out, newDirOut(cfg.Dir, o.BaseDir, cfg.MaxFiles))
	}
	if len(o.MISP) > 0 {
		c.out = append(c.out, newMISPOut(o.MISP, cfg.MISPSource, h))
	}
	return c, nil
}

// Blocked implements query.BlockSink: it keeps the blocks of
// threat-intelligence lists, without waiting.
func (c *Collector) Blocked(h query.BlockHit) {
	if c == nil || h.Table == nil || int(h.Match.Payload.List) >= len(h.Table.Lists) ||
		!c.lists[h.Table.Lists[h.Match.Payload.List].Name] {
		return
	}
	select {
	case c.ch <- item{hit: h}:
	default:
		c.met.drop(dropQueue, 1)
	}
}

// Start runs the intake and the interval loop until ctx is done or Close.
func (c *Collector) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.started = true
	c.wg.Add(2)
	go c.intake()
	go c.loop(ctx, c.clock.Now().Add(c.cfg.Interval)) // the first interval starts now, not when the goroutine runs
}

// Close stops the loop and sends what was counted since the last report
// (bounded by the request timeout).
func (c *Collector) Close() {
	c.once.Do(func() {
		if !c.started {
			close(c.quit)
			return
		}
		c.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		defer cancel()
		if err := c.Flush(ctx); err != nil {
			c.log.Warn("sightings: final report failed", "err", err)
		}
		close(c.quit)
		c.wg.Wait()
	})
}

func (c *Collector) loop(ctx context.Context, due time.Time) {
	defer c.wg.Done()
	for {
		if d := due.Sub(c.clock.Now()); d > 0 {
			if clock.Sleep(ctx, min(d, c.poll)) != nil {
				return
			}
			continue
		}
		due = due.Add(c.cfg.Interval)
		if now := c.clock.Now(); due.Before(now) { // a stopped clock or a long sleep: no burst of reports
			due = now.Add(c.cfg.Interval)
		}
		if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("sightings report failed; kept for the next interval", "err", err)
		}
	}
}

// intake owns the counts: it aggregates blocks and hands the counts over
// on a flush request, so a report sees every block queued before it.
func (c *Collector) intake() {
	defer c.wg.Done()
	counts := map[aggKey]*agg{}
	var idx *feeds.IntelIndex
	for {
		var it item
		select {
		case it = <-c.ch:
		case <-c.quit:
			return
		}
		if it.flush != nil {
			it.flush <- counts
			counts = map[aggKey]*agg{}
			continue
		}
		if r := c.rules.Rules(); r != nil && (idx == nil || idx.Rules() != r) {
			idx = r.IntelIndex()
		}
		if idx != nil {
			c.count(counts, idx, &it.hit)
		}
	}
}

func (c *Collector) count(counts map[aggKey]*agg, idx *feeds.IntelIndex, h *query.BlockHit) {
	list := h.Table.Lists[h.Match.Payload.List].Name
	refs := idx.Lookup(list, h.Match.RuleName(h.Name), h.Match.Scope)
	if len(refs) == 0 {
		return
	}
	c.met.block()
	tn := -1
	client := h.Client.Unmap()
	for i, t := range c.tenants {
		for _, p := range t.prefixes {
			if p.Contains(client) {
				tn = i
				break
			}
		}
		if tn >= 0 {
			break
		}
	}
	for _, r := range refs {
		k := aggKey{kind: r.Kind, id: r.ID, event: r.Event, list: list, tenant: tn}
		a := counts[k]
		if a == nil {
			if len(counts) >= c.cfg.MaxIndicators {
				c.met.drop(dropLimit, 1)
				continue
			}
			a = &agg{first: h.At}
			counts[k] = a
		}
		a.count++
		if h.At.Before(a.first) {
			a.first = h.At
		}
		if h.At.After(a.last) {
			a.last = h.At
		}
		if c.cfg.IncludeClients && client.IsValid() {
			if a.clients == nil {
				a.clients = map[netip.Addr]struct{}{}
			}
			if len(a.clients) < maxClients {
				a.clients[client] = struct{}{}
			}
		}
	}
}

// Flush reports what was counted since the last report now, and what
// earlier reports could not deliver. It returns the destinations' errors;
// what failed is kept (bounded) for the next report.
func (c *Collector) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	reply := make(chan map[aggKey]*agg, 1)
	select {
	case c.ch <- item{flush: reply}:
	case <-c.quit:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	var counts map[aggKey]*agg
	select {
	case counts = <-reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	now := c.clock.Now()
	rep := c.report(counts, now)
	var errs []error
	for _, d := range c.out {
		if err := c.deliver(ctx, d, rep); err != nil {
			errs = append(errs, err)
		}
	}
	c.met.flushed(float64(now.Unix()))
	return errors.Join(errs...)
}
