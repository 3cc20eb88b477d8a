package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/cache"
)

// shutdownGrace bounds how long in-flight queries may take after SIGTERM.
const shutdownGrace = 5 * time.Second

// serveCmd runs the resolver until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully: stop accepting, answer what is in flight, exit 0.
// SIGHUP refreshes every list now; a list that fails keeps its last good copy.
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
	cfg := src.cfg
	logger := newLogger(stderr, cfg.Log.Level)
	if err := serve(ctx, src, logger, stdout, hup); err != nil {
		logger.Error("bulwark stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, src *source, logger *slog.Logger, stdout io.Writer, hup <-chan os.Signal) error {
	cfg := src.cfg
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rm := resolver.NewMetrics(reg)

	// The lists: loaded per feeds.startup, then refreshed in the
	// background; each new merged table is swapped into tables.
	var tables atomic.Pointer[blocklist.Table]
	lists, err := src.newManager(logger, feeds.NewMetrics(reg), &tables)
	if err != nil {
		return err
	}
	defer lists.Close()
	var ready atomic.Bool // DNS is being served
	if cfg.Listen.Admin != "" {
		admin, err := startAdmin(cfg.Listen.Admin, reg, func() error {
			if !ready.Load() {
				return errors.New("DNS not served (starting or shutting down)")
			}
			return lists.Ready()
		}, logger)
		if err != nil {
			return err
		}
		defer admin.Close()
	}

	start := time.Now()
	if err := lists.Start(ctx); err != nil {
		return fmt.Errorf("load lists: %w", err)
	}
	table := tables.Load()
	logger.Info("lists loaded", "lists", len(table.Lists), "rules", table.Set.Len(), "bytes", table.Set.SizeBytes(), "took", time.Since(start).Round(time.Millisecond))

	blockOut, closeOut, err := openBlockLog(cfg.Log.Blocked, stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	blog := resolver.NewBlockLog(blockOut, rm, logger)
	defer blog.Close()

	back, err := newBackend(cfg, reg, logger)
	if err != nil {
		return err
	}
	defer back.close()
	c := cache.New(cfg.Cache, back, clock.Real{}, cache.NewMetrics(reg), logger, back.cacheOpts...)
	defer c.Close()

	// The request path, top to bottom (DESIGN.md).
	policy := resolver.NewPolicy(cfg.Blocking, &tables, c, blog, rm)
	guard, err := resolver.NewGuard(resolver.GuardConfig{
		ACL: cfg.ACL, RateLimit: cfg.RateLimit, Chaos: cfg.Chaos, Clock: clock.Real{},
	}, policy, rm)
	if err != nil {
		return err
	}
	srv, err := resolver.NewServer(cfg.Listen, guard, rm, logger)
	if err != nil {
		return err
	}
	// Cache hits for allowed names skip the chain's allocations; the
	// answers are the same (resolver/fastpath_test.go).
	if back.fastPath {
		srv.SetFastPath(resolver.NewFastPath(guard, policy, c))
	}
	obs, err := openObservers(cfg, rm, reg, stdout, logger)
	if err != nil {
		return err
	}
	defer obs.close() // after Shutdown: what was answered is logged
	if o := obs.observer(); o != nil {
		srv.SetObserver(o)
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ready.Store(true)
	logger.Info("bulwark ready", "version", version, "config", src.name)

	for {
		select {
		case <-hup:
			lists.RefreshAll() // in the background; each list keeps its last good copy
			reopenLogs(blog, obs, logger)
			if err := srv.ReloadCertificate(); err != nil {
				logger.Error("certificate reload failed; keeping the current certificate", "err", err)
			}
		case <-ctx.Done():
			logger.Info("shutting down")
			ready.Store(false)
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		}
	}
}

// openBlockLog opens the block log destination of log.blocked.
func openBlockLog(dest string, stdout io.Writer) (io.Writer, func(), error) {
	switch dest {
	case "off":
		return nil, func() {}, nil
	case "stdout":
		return stdout, func() {}, nil
	case "stderr":
		return os.Stderr, func() {}, nil
	}
	// A file is a resolver.LogFile, which SIGHUP reopens (logrotate).
	f, err := resolver.OpenLogFile(dest)
	if err != nil {
		return nil, nil, fmt.Errorf("block log: %w", err)
	}
	return f, func() { f.Close() }, nil
}
