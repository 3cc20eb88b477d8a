package main

import (
	"context"
	"fmt"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/feeds/sightings"
	"github.com/bulwark-dns/bulwark/internal/clock"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// startSightings starts the sightings collector of a generation and makes
// it watch policy's blocks; nil when the configuration reports nothing.
func (d *daemon) startSightings(ctx context.Context, src *source, lists *feeds.Manager) (*sightings.Collector, error) {
	c, err := sightings.New(sightings.Options{
		Config: src.cfg.Sightings, Lists: src.cfg.Blocklists, BaseDir: src.baseDir, Rules: lists,
		MISP: lists.MISPSightingTargets(), Clock: clock.Real{}, Logger: d.logger, Metrics: d.pm.sightings.get(d.pm.reg, sightings.NewMetrics), Version: version,
	})
	if err != nil || c == nil {
		if err != nil {
			err = fmt.Errorf("sightings: %w", err)
		}
		return nil, err
	}
	c.Start(context.WithoutCancel(ctx)) // Close stops it, after its final report
	return c, nil
}

// sinkOf is the pipeline's block sink: c, or none (a nil interface, not a
// typed nil pointer).
func sinkOf(c *sightings.Collector) contract.BlockSink {
	if c == nil {
		return nil
	}
	return c
}
