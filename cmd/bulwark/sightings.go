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
		MISP: lists.MISPSightingTargets(), Clock: clock.Real{}, Logger: d.logger, Metrics: d.pm.sightingsMetrics(), Version: version,
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

// sightingsMetrics registers the sightings metrics on first use, so they
// appear only once sightings are configured.
func (pm *processMetrics) sightingsMetrics() *sightings.Metrics {
	if pm == nil {
		return nil
	}
	pm.sightingsOnce.Do(func() { pm.sightings = sightings.NewMetrics(pm.reg) })
	return pm.sightings
}
