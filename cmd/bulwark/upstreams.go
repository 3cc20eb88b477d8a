package main

import (
	"log/slog"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/config"
	"github.com/bulwark-dns/bulwark/resolver/cache"
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
}

func newBackend(cfg *config.Config, pm *processMetrics, logger *slog.Logger) (*backend, error) {
	um := pm.upstreamMetrics()
	if cfg.Upstream.Mode != upstream.ModeRecursive {
		fwd, err := upstream.New(cfg.Upstream, um, logger)
		if err != nil {
			return nil, err
		}
		b := &backend{Resolver: fwd, fastPath: true, close: func() { _ = fwd.Close() }}
		if cfg.Upstream.ECS.Forward {
			b.cacheOpts = append(b.cacheOpts, cache.WithSubnetKey(fwd.ClientSubnet))
			b.fastPath = false
		}
		return b, nil
	}
	rec, err := recursive.New(cfg.Recursion, clock.Real{}, pm.recursiveMetrics(), logger)
	if err != nil {
		return nil, err
	}
	if len(cfg.Upstream.Conditional) == 0 {
		return &backend{Resolver: rec, fastPath: true, close: func() {}}, nil
	}
	// Conditional forwarding applies in recursive mode too: corp.internal
	// goes to the internal servers, everything else is resolved from the
	// root.
	fwd, err := upstream.New(cfg.Upstream, um, logger)
	if err != nil {
		return nil, err
	}
	return &backend{Resolver: pipeline.NewRoute(fwd, rec), fastPath: !cfg.Upstream.ECS.Forward, close: func() { _ = fwd.Close() }}, nil
}
