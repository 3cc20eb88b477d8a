package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/resolver"
)

// daemon is a running `bulwark serve`: the server, the configuration
// generation in force, and what reloads it.
type daemon struct {
	ctx     context.Context // serve's: cancelled at shutdown
	path    string          // the config file; "" is the embedded default
	name    string          // the config's name for messages
	pm      *processMetrics
	stdout  io.Writer
	logger  *slog.Logger
	level   *slog.LevelVar
	srv     *resolver.Server
	started time.Time
	gc      *buildGC // GOGC while lists build (memory.go)

	cur     atomic.Pointer[generation]
	loading atomic.Pointer[feeds.Manager] // the first generation's lists, while they load
	ready   atomic.Bool                   // DNS is being served

	mu       sync.Mutex // one reload (or shutdown) at a time; guards admin
	admin    *adminServer
	retiring sync.WaitGroup         // replaced generations draining
	retired  chan struct{}          // closed once the last replaced generation is closed
	lastErr  atomic.Pointer[string] // the last reload's error (nil: it succeeded), for /stats

	secretOnce sync.Once // the client hash secret without hash_key_file (privacy.go)
	secret     []byte
	secretErr  error
}

// errNotServing fails a reload that comes before DNS is served (the first
// configuration is still loading) or during shutdown.
var errNotServing = errors.New("not serving yet, or shutting down: nothing to reload")

// reload re-reads the config file and swaps the new configuration in once
// it is completely built: lists loaded, upstreams and logs opened, new
// listener addresses bound. If anything fails, the running configuration
// stays in force, untouched, and the error is logged, counted and
// returned. Either way it then does what SIGHUP has always done: refresh
// every list now (in the background; a failing list keeps its copy) and
// reopen the log files (logrotate).
func (d *daemon) reload(trigger string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil || !d.ready.Load() {
		return errNotServing
	}
	start := time.Now()
	err := d.swap()
	if err != nil {
		msg := err.Error()
		d.lastErr.Store(&msg)
	} else {
		d.lastErr.Store(nil)
	}
	d.pm.reloaded(err == nil, start)
	cur := d.cur.Load()
	if err != nil {
		d.logger.Error("config reload failed; the running configuration stays", "trigger", trigger, "config", d.name, "err", err)
		// The certificate files may have been renewed without a config
		// change: re-read them (a broken pair keeps the current one).
		if cerr := d.srv.ReloadCertificate(); cerr != nil {
			d.logger.Error("certificate reload failed; keeping the current certificate", "err", cerr)
		}
	} else {
		d.logger.Info("config reloaded", "trigger", trigger, "config", d.name, "took", time.Since(start).Round(time.Millisecond))
	}
	if trigger == adminReloadTrigger {
		// Anyone who reaches the admin API can POST: never let it
		// drive a feed provider's request rate.
		cur.lists.RefreshStale(adminRefreshAge)
	} else {
		cur.lists.RefreshAll()
	}
	reopenLogs(cur.blog, cur.obs, d.logger)
	return err
}

// swap builds the configuration of the file and makes it the running one.
func (d *daemon) swap() error {
	src, err := loadConfig(d.path)
	if err != nil {
		return err
	}
	old := d.cur.Load()
	next, err := d.build(d.ctx, src, old)
	if err != nil {
		return err
	}
	admin, err := d.admin.prepare(src.cfg.Listen.Admin, d)
	if err != nil {
		next.closeUnshared(old)
		return err
	}
	if err := d.srv.Reload(src.cfg.Listen, next.pipe); err != nil {
		admin.abort()
		next.closeUnshared(old)
		return err
	}
	// Committed: nothing below fails.
	d.cur.Store(next)
	next.applyClients(nil) // the logs next shares with old too
	setLevel(d.level, src.cfg.Log.Level)
	applyMemoryPolicy(src.cfg.Runtime, d.logger, d.gc)
	d.admin = admin.commit()
	d.retire(old, next)
	return nil
}

// retire shuts down what the replaced generation old does not share with
// next: its lists at once (next has taken over their copies), then the
// rest once the queries inside its chain have been answered.
func (d *daemon) retire(old, next *generation) {
	old.lists.Close()
	next.lists.SetMetrics(d.pm.feeds)
	keep := next.lists.Names()
	for _, name := range old.lists.Names() {
		if !slices.Contains(keep, name) {
			d.pm.feeds.Forget(name)
		}
	}
	// At the swap, like the feeds': the next reload may bring a name back.
	d.pm.sinks.Forget(removedSinks(old.cfg, next.cfg)...)
	// Generations close in the order they were replaced: an older one may
	// still be answering through upstreams it shares with old.
	prev, done := d.retired, make(chan struct{})
	d.retired = done
	d.retiring.Add(1)
	go func() {
		defer d.retiring.Done()
		defer close(done)
		old.pipe.Drain(maxDrain)
		if prev != nil {
			<-prev
		}
		old.closeUnshared(next)
	}()
}

// shutdown stops serving: no more queries are read, those in flight are
// answered (for shutdownGrace at most), the logs are flushed, and every
// component is closed.
func (d *daemon) shutdown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logger.Info("shutting down")
	d.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	err := d.srv.Shutdown(sctx)
	cancel()
	d.retiring.Wait()
	if g := d.cur.Load(); g != nil {
		g.closeUnshared(nil) // after Shutdown: what was answered is logged
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// readiness is /readyz: nil once DNS is served with every list loaded.
func (d *daemon) readiness() error {
	g := d.cur.Load()
	if !d.ready.Load() || g == nil {
		if m := d.loading.Load(); m != nil && d.ctx.Err() == nil {
			if err := m.Ready(); err != nil {
				return err
			}
		}
		return errors.New("DNS not served (starting or shutting down)")
	}
	return g.lists.Ready()
}
