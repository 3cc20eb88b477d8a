package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
	"github.com/bulwark-dns/bulwark/resolver/upstream"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/feeds/sightings"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/config"
)

// generation is one loaded configuration and everything built from it:
// the lists, the request path and the logs. A reload builds a complete new
// generation next to the running one and swaps it in; the parts whose
// configuration did not change (the block log, the query log and dnstap,
// the upstreams with the cache) are shared with the previous generation
// rather than rebuilt, and lists whose configuration did not change start
// from the previous copies.
type generation struct {
	src   *source
	cfg   *config.Config
	token string // admin token, "" without one
	// caSum is upstream.ca_file's digest: the same path with a new
	// content is a new upstream configuration.
	caSum [sha256.Size]byte

	tables   *atomic.Pointer[blocklist.Table]
	lists    *feeds.Manager
	back     *backend
	um       *upstream.Metrics // the process's: Forget removed servers
	cache    *cache.Cache
	blog     *logs.BlockLog
	closeOut func() // the block log's destination
	obs      *observers
	pipe     *pipeline.Pipeline
	sight    *sightings.Collector // nil: no sightings configured
	clients  clientSets           // how the logs write client addresses (privacy.go)
	tenants  *tenant.Selector     // nil: no tenants configured
}

// maxDrain bounds how long a replaced generation's upstream connections
// stay open for the queries that were inside its chain at the swap.
const maxDrain = 15 * time.Second

// build builds the generation of src. prev is the running generation on a
// reload (nil at start): what can be shared with it is. On error,
// everything built so far is closed again and prev is untouched.
func (d *daemon) build(ctx context.Context, src *source, prev *generation) (_ *generation, err error) {
	cfg := src.cfg
	g := &generation{src: src, cfg: cfg, tables: &atomic.Pointer[blocklist.Table]{}}
	defer func() {
		if err != nil {
			g.closeUnshared(prev)
		}
	}()
	if g.token, err = cfg.Admin.ResolveToken(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if g.caSum, err = fileSum(cfg.Upstream.CAFile); err != nil {
		return nil, fmt.Errorf("upstream.ca_file: %w", err)
	}

	// The lists. At start they record into the metrics at once; on a
	// reload only once the new generation serves (feeds.Manager.SetMetrics),
	// so that a failed reload leaves the series alone.
	met, previous := d.pm.feeds, (*feeds.Manager)(nil)
	if prev != nil {
		met, previous = nil, prev.lists
	}
	if g.lists, err = src.newManager(d.logger, met, g.tables, previous, d.gc); err != nil {
		return nil, err
	}
	if prev == nil {
		d.loading.Store(g.lists)
	}
	start := time.Now()
	if err = g.lists.Start(ctx); err != nil {
		return nil, fmt.Errorf("load lists: %w", err)
	}
	table := g.tables.Load()
	d.logger.Info("lists loaded", "lists", len(table.Lists), "rules", table.Set.Len(), "bytes", table.Set.SizeBytes(),
		"took", time.Since(start).Round(time.Millisecond))
	if g.tenants, err = newTenants(cfg, table); err != nil { // tenants.go
		return nil, err
	}

	if prev != nil && prev.cfg.Log.Blocked == cfg.Log.Blocked && reflect.DeepEqual(prev.cfg.Log.SinksOf("blocked"), cfg.Log.SinksOf("blocked")) {
		g.blog, g.closeOut = prev.blog, prev.closeOut
	} else {
		out, closeOut, err := d.openBlockLog(cfg)
		if err != nil {
			return nil, err
		}
		g.blog, g.closeOut = logs.NewBlockLog(out, d.pm.logs, d.logger), closeOut
	}

	g.um = d.pm.upstream
	if prev != nil && sameBackend(prev, g) {
		// A list-only change keeps the warm cache and the upstream
		// connections and health.
		g.back, g.cache = prev.back, prev.cache
	} else {
		if g.back, err = newBackend(cfg, d.pm, d.logger); err != nil {
			return nil, err
		}
		g.cache = cache.New(cfg.Cache, g.back, g.back.clock, d.pm.cache, d.logger, g.back.cacheOpts...)
	}

	if g.sight, err = d.startSightings(ctx, src, g.lists); err != nil { // sightings.go
		return nil, err
	}
	if prev != nil && sameObservers(prev.cfg, cfg) {
		g.obs = prev.obs
	} else if g.obs, err = openObservers(cfg, d.pm, d.stdout, d.logger); err != nil {
		return nil, err
	}
	if g.clients, err = d.clientSets(cfg); err != nil {
		return nil, err
	}
	g.applyClients(prev) // before the new logs see a record
	// The request path: pipeline.Build puts the parts in order.
	g.pipe, err = pipeline.Build(pipeline.Parts{
		Guard:    pipeline.GuardConfig{ACL: cfg.ACL, RateLimit: cfg.RateLimit, Chaos: cfg.Chaos, Clock: clock.Real{}},
		Blocking: cfg.Blocking,
		Tables:   g.tables,
		BlockLog: g.blog,
		Cache:    g.cache,
		Fast:     g.back.fastPath,
		Sink:     sinkOf(g.sight),
		Tenants:  g.tenants,
		Servers:  g.back.servers,
		Options: pipeline.Options{UDPSize: cfg.Listen.UDPSize, Observer: g.obs.observer(),
			Metrics: d.pm.resolver, Logger: d.logger},
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// sameBackend reports whether next may keep prev's upstreams and cache.
func sameBackend(prev, next *generation) bool {
	a, b := prev.cfg, next.cfg
	return reflect.DeepEqual(a.Upstream, b.Upstream) && reflect.DeepEqual(a.Recursion, b.Recursion) &&
		reflect.DeepEqual(a.DNSSEC, b.DNSSEC) && a.Testing == b.Testing &&
		reflect.DeepEqual(a.Cache, b.Cache) && prev.caSum == next.caSum
}

// sameObservers reports whether the query log and dnstap stay as they are.
func sameObservers(a, b *config.Config) bool {
	// dnstap.client is applied to a running tap (applyClients).
	ta, tb := a.Dnstap, b.Dnstap
	ta.Client, tb.Client = "", ""
	return a.Log.Queries == b.Log.Queries && a.Log.Sample() == b.Log.Sample() && reflect.DeepEqual(ta, tb) &&
		reflect.DeepEqual(a.Log.SinksOf("queries"), b.Log.SinksOf("queries"))
}

func fileSum(path string) (sum [sha256.Size]byte, err error) {
	if path == "" {
		return sum, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return sum, err
	}
	return sha256.Sum256(b), nil
}

// closeUnshared closes what g holds and keep (nil: nothing) does not
// share. The cache goes before the upstreams it prefetches from.
func (g *generation) closeUnshared(keep *generation) {
	if keep == nil {
		keep = &generation{}
	}
	if g.sight != nil && g.sight != keep.sight {
		g.sight.Close() // sends what was counted since the last report
	}
	if g.lists != nil && g.lists != keep.lists {
		g.lists.Close()
	}
	if g.cache != nil && g.cache != keep.cache {
		g.cache.Close()
	}
	if g.back != nil && g.back != keep.back {
		g.back.close()
		if g.cfg != nil {
			g.um.Forget(removedUpstreams(g.cfg, keep.cfg)...)
		}
	}
	if g.blog != nil && g.blog != keep.blog {
		g.blog.Close()
		g.closeOut()
	}
	if g.obs != nil && g.obs != keep.obs {
		g.obs.close()
	}
}

// removedSinks are the log sinks (by name, their metric label) of old that
// cur (nil: none) does not have.
func removedSinks(old, cur *config.Config) []string {
	names := func(cfg *config.Config) []string {
		var out []string
		if cfg != nil {
			for _, sc := range append(cfg.Log.SinksOf("blocked"), cfg.Log.SinksOf("queries")...) {
				out = append(out, sc.Name)
			}
		}
		return out
	}
	return removedNames(names(old), names(cur))
}

// removedUpstreams are the upstream servers (as configured, which is how
// metrics label them) that old names and cur (nil: none) does not.
func removedUpstreams(old, cur *config.Config) []string {
	var now []string
	if cur != nil {
		now = upstreamServers(cur)
	}
	return removedNames(upstreamServers(old), now)
}

// removedNames are the names of old that are not in cur.
func removedNames(old, cur []string) []string {
	keep := map[string]bool{}
	for _, s := range cur {
		keep[s] = true
	}
	var gone []string
	for _, s := range old {
		if !keep[s] {
			gone = append(gone, s)
		}
	}
	return gone
}

func upstreamServers(cfg *config.Config) []string {
	out := append([]string(nil), cfg.Upstream.Servers...)
	for _, c := range cfg.Upstream.Conditional {
		out = append(out, c.Servers...)
	}
	return out
}
