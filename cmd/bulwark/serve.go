package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/logs"
)

// shutdownGrace bounds how long in-flight queries may take after SIGTERM.
const shutdownGrace = 5 * time.Second

// serveCmd runs the resolver until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully: stop accepting, answer what is in flight, exit 0.
// SIGHUP reloads the config (see daemon.reload).
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	f, _, err := parseFlags("serve", args, stderr)
	if err != nil {
		return 2
	}
	src, err := loadConfig(f.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger, level := newLogger(stderr, src.cfg.Log.Level)
	gc := newBuildGC(debug.SetGCPercent, os.Getenv("GOGC"))
	applyMemoryPolicy(src.cfg.Runtime, logger, gc)
	defer gc.watch()() // the heap floor, after each collection
	d := &daemon{ctx: ctx, path: f.config, name: src.name, stdout: stdout, logger: logger, level: level, started: time.Now(), gc: gc}
	if err := d.serve(src, hup); err != nil {
		logger.Error("bulwark stopped", "err", err)
		return 1
	}
	return 0
}

// serve builds the first generation of src, serves it, reloads on SIGHUP
// (and POST /reload) and shuts down when d.ctx ends.
func (d *daemon) serve(src *source, hup <-chan os.Signal) error {
	d.pm = newProcessMetrics(d.started)
	if addr := src.cfg.Listen.Admin; addr != "" {
		// First, so that /readyz tells why DNS is not served yet.
		admin, err := startAdmin(addr, d)
		if err != nil {
			return err
		}
		d.admin = admin
		defer func() { d.admin.close() }()
	}
	gen, err := d.build(d.ctx, src, nil)
	if err != nil {
		return err
	}
	d.cur.Store(gen)
	d.loading.Store(nil)
	srv, err := resolver.NewServer(src.cfg.Listen, gen.pipe, d.pm.resolver, d.logger)
	if err != nil {
		gen.closeUnshared(nil)
		return err
	}
	srv.SetNotifyHandler(currentLists{d}) // NOTIFY for axfr:// lists (notify.go)
	d.srv = srv
	if err := srv.Listen(); err != nil {
		gen.closeUnshared(nil)
		return err
	}
	d.ready.Store(true)
	d.logger.Info("bulwark ready", "version", version, "config", src.name)

	for {
		select {
		case <-hup:
			_ = d.reload("SIGHUP") // logged and counted; the running config stays on error
		case <-d.ctx.Done():
			return d.shutdown()
		}
	}
}

// openBlockLog opens the block log's destinations: log.blocked (a file,
// stdout, or a sink URL) and the log.sinks for the block log.
func (d *daemon) openBlockLog(cfg *config.Config) (io.Writer, func(), error) {
	w, closeFn, err := logs.Open(cfg.Log.Blocked, cfg.Log.SinksOf("blocked"), d.stdout, os.Stderr, d.pm.sinks, d.logger)
	if err != nil {
		return nil, nil, fmt.Errorf("block log: %w", err)
	}
	return w, func() { _ = closeFn() }, nil
}
