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
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// shutdownGrace bounds how long in-flight queries may take after SIGTERM.
const shutdownGrace = 5 * time.Second

// serveCmd runs the resolver until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully: stop accepting, answer what is in flight, exit 0.
// SIGHUP reloads the lists; a failed reload keeps the lists being served.
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
	fm := newFeedMetrics(reg)

	var tables atomic.Pointer[blocklist.Table]
	var ready atomic.Bool
	if cfg.Listen.Admin != "" {
		admin, err := startAdmin(cfg.Listen.Admin, reg, &ready, logger)
		if err != nil {
			return err
		}
		defer admin.Close()
	}

	start := time.Now()
	table, reports, err := src.loadLists(ctx, logger)
	if err != nil {
		return fmt.Errorf("load lists: %w", err)
	}
	tables.Store(table)
	fm.record(reports, table, time.Now())
	logger.Info("lists loaded", "lists", len(reports), "rules", table.Set.Len(), "bytes", table.Set.SizeBytes(), "took", time.Since(start).Round(time.Millisecond))

	blockOut, closeOut, err := openBlockLog(cfg.Log.Blocked, stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	blog := resolver.NewBlockLog(blockOut, rm, logger)
	defer blog.Close()

	fwd, err := upstream.New(cfg.Upstream, upstream.NewMetrics(reg), logger)
	if err != nil {
		return err
	}
	c := cache.New(cfg.Cache, fwd, clock.Real{}, cache.NewMetrics(reg), logger)
	defer c.Close()

	// The request path, top to bottom (DESIGN.md).
	guard, err := resolver.NewGuard(resolver.GuardConfig{
		ACL: cfg.ACL, RateLimit: cfg.RateLimit, Chaos: cfg.Chaos, Clock: clock.Real{},
	}, resolver.NewPolicy(cfg.Blocking, &tables, c, blog, rm), rm)
	if err != nil {
		return err
	}
	srv, err := resolver.NewServer(cfg.Listen, guard, rm, logger)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ready.Store(true)
	logger.Info("bulwark ready", "version", version, "config", src.name)

	for {
		select {
		case <-hup:
			reloadLists(ctx, src, &tables, fm, logger)
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

// reloadLists re-reads every list and swaps the new table in; on any error
// the running table stays.
func reloadLists(ctx context.Context, src *source, tables *atomic.Pointer[blocklist.Table], fm *feedMetrics, logger *slog.Logger) {
	start := time.Now()
	table, reports, err := src.loadLists(ctx, logger)
	if err != nil {
		fm.reloadFailed()
		logger.Error("list reload failed; keeping the lists being served", "err", err)
		return
	}
	tables.Store(table)
	fm.record(reports, table, time.Now())
	logger.Info("lists reloaded", "rules", table.Set.Len(), "took", time.Since(start).Round(time.Millisecond))
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
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open block log: %w", err)
	}
	return f, func() { f.Close() }, nil
}
