package main

import (
	"fmt"
	"log/slog"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/dnssec"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/recursive"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// backend is the last step of the chain, below the cache: the forwarder,
// or the recursive resolver with the conditional domains still forwarded.
type backend struct {
	contract.Resolver
	// cacheOpts key the cache as the backend needs (per ECS subnet).
	cacheOpts []cache.Option
	// fastPath is false when answers depend on more than the question
	// (forwarded ECS), which the UDP fast path cannot see.
	fastPath bool
	close    func()
	// clock is the time of the cache, the recursive resolver and the
	// validator: the wall clock, or testing.clock_file's.
	clock clock.Clock
	// servers reports the authoritative servers used (recursive mode),
	// for RPZ's rpz-nsdname and rpz-nsip; nil when forwarding.
	servers pipeline.ServerSource
}

func newBackend(cfg *config.Config, pm *processMetrics, logger *slog.Logger) (*backend, error) {
	clk, err := cfg.Testing.Clock() // checked by Validate; the file may have gone since
	if err != nil {
		return nil, fmt.Errorf("testing.clock_file: %w", err)
	}
	b, err := newRoute(cfg, clk, pm, logger)
	if err != nil {
		return nil, err
	}
	b.clock = clk
	return b, nil
}

// newRoute builds the backend's resolver for the upstream mode.
func newRoute(cfg *config.Config, clk clock.Clock, pm *processMetrics, logger *slog.Logger) (*backend, error) {
	um := pm.upstream
	if cfg.Upstream.Mode != upstream.ModeRecursive {
		fwd, err := upstream.New(cfg.Upstream, um, logger)
		if err != nil {
			return nil, err
		}
		val, err := validating(cfg, false, fwd, clk, pm, logger)
		if err != nil {
			_ = fwd.Close()
			return nil, err
		}
		b := &backend{Resolver: val, fastPath: true, close: func() { _ = fwd.Close() }}
		if cfg.Upstream.ECS.Forward {
			b.cacheOpts = append(b.cacheOpts, cache.WithSubnetKey(fwd.ClientSubnet))
			b.fastPath = false
		}
		return b, nil
	}
	rec, err := recursive.New(cfg.Recursion, clk, pm.recursive.get(pm.reg, recursive.NewMetrics), logger)
	if err != nil {
		return nil, err
	}
	val, err := validating(cfg, true, rec, clk, pm, logger)
	if err != nil {
		return nil, err
	}
	if len(cfg.Upstream.Conditional) == 0 {
		return &backend{Resolver: val, fastPath: true, close: func() {}, servers: rec}, nil
	}
	// Conditional forwarding applies in recursive mode too: corp.internal
	// goes to the internal servers, everything else is resolved from the
	// root.
	fwd, err := upstream.New(cfg.Upstream, um, logger)
	if err != nil {
		return nil, err
	}
	// Conditionally forwarded domains (internal zones, mostly unsigned
	// below a signed public parent) are not validated.
	return &backend{Resolver: pipeline.NewRoute(fwd, val), fastPath: !cfg.Upstream.ECS.Forward, close: func() { _ = fwd.Close() },
		servers: rec}, nil
}

// validating wraps next in the DNSSEC validator when dnssec.validate is on
// (by default in recursive mode only), and returns next as it is otherwise.
func validating(cfg *config.Config, recursiveMode bool, next contract.Resolver, clk clock.Clock, pm *processMetrics, logger *slog.Logger) (contract.Resolver, error) {
	if !cfg.DNSSEC.Enabled(recursiveMode) {
		return next, nil
	}
	return dnssec.New(cfg.DNSSEC, next, clk, pm.dnssec.get(pm.reg, dnssec.NewMetrics), logger)
}
