package main

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/feeds/sightings"
	"github.com/bulwark-dns/bulwark/internal/promx"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/dnssec"
	"github.com/bulwark-dns/bulwark/resolver/dnstap"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/logsink"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/recursive"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
)

// processMetrics holds every package's Metrics. Each registers its series
// when constructed, which may happen once per registry, so they live as
// long as the process and every configuration generation records into the
// same ones. A nil *processMetrics records nothing (tests).
type processMetrics struct {
	reg       *prometheus.Registry
	resolver  *pipeline.Metrics
	logs      *logs.Metrics
	sinks     *logsink.Metrics
	feeds     *feeds.Metrics
	cache     *cache.Metrics
	upstream  *upstream.Metrics
	reloads   *prometheus.CounterVec
	reloadOK  prometheus.Gauge
	reloadAt  prometheus.Gauge
	startedAt time.Time

	// Registered on first use, so that their series appear only once a
	// configuration turns them on (as the README says).
	dnstapOnce    sync.Once
	dnstap        *dnstap.Metrics
	recursiveOnce sync.Once
	recursive     *recursive.Metrics
	dnssecOnce    sync.Once
	dnssec        *dnssec.Metrics
	sightingsOnce sync.Once // sightings.go
	sightings     *sightings.Metrics
}

// Results of a config reload, the result label of
// bulwark_config_reloads_total.
const (
	reloadSuccess = "success"
	reloadFailure = "failure"
)

func newProcessMetrics(now time.Time) *processMetrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promx.With(reg)
	pm := &processMetrics{
		reg:      reg,
		resolver: pipeline.NewMetrics(reg),
		logs:     logs.NewMetrics(reg),
		sinks:    logsink.NewMetrics(reg),
		feeds:    feeds.NewMetrics(reg),
		cache:    cache.NewMetrics(reg),
		upstream: upstream.NewMetrics(reg),
		reloads: f.CounterVec("bulwark_config_reloads_total",
			"Config reloads (SIGHUP, POST /reload) by result: success, failure (the running configuration stays).", "result"),
		reloadOK: f.Gauge("bulwark_config_last_reload_successful",
			"1 if the last config reload succeeded (or none was tried), 0 if it failed and an older configuration is running."),
		reloadAt: f.Gauge("bulwark_config_last_reload_success_timestamp_seconds",
			"Unix time the running configuration was loaded (at start or by the last successful reload)."),
		startedAt: now,
	}
	for _, r := range []string{reloadSuccess, reloadFailure} {
		pm.reloads.WithLabelValues(r)
	}
	pm.reloadOK.Set(1)
	pm.reloadAt.Set(float64(now.Unix()))
	return pm
}

// reloaded records one reload attempt.
func (pm *processMetrics) reloaded(ok bool, at time.Time) {
	if pm == nil {
		return
	}
	if ok {
		pm.reloads.WithLabelValues(reloadSuccess).Inc()
		pm.reloadOK.Set(1)
		pm.reloadAt.Set(float64(at.Unix()))
		return
	}
	pm.reloads.WithLabelValues(reloadFailure).Inc()
	pm.reloadOK.Set(0)
}

// The accessors below are nil-safe: a nil *processMetrics gives nil
// Metrics, which every package accepts.

func (pm *processMetrics) resolverMetrics() *pipeline.Metrics {
	if pm == nil {
		return nil
	}
	return pm.resolver
}

func (pm *processMetrics) logMetrics() *logs.Metrics {
	if pm == nil {
		return nil
	}
	return pm.logs
}

func (pm *processMetrics) sinkMetrics() *logsink.Metrics {
	if pm == nil {
		return nil
	}
	return pm.sinks
}

func (pm *processMetrics) feedMetrics() *feeds.Metrics {
	if pm == nil {
		return nil
	}
	return pm.feeds
}

func (pm *processMetrics) cacheMetrics() *cache.Metrics {
	if pm == nil {
		return nil
	}
	return pm.cache
}

func (pm *processMetrics) upstreamMetrics() *upstream.Metrics {
	if pm == nil {
		return nil
	}
	return pm.upstream
}

func (pm *processMetrics) dnstapMetrics() *dnstap.Metrics {
	if pm == nil {
		return nil
	}
	pm.dnstapOnce.Do(func() { pm.dnstap = dnstap.NewMetrics(pm.reg) })
	return pm.dnstap
}

func (pm *processMetrics) dnssecMetrics() *dnssec.Metrics {
	if pm == nil {
		return nil
	}
	pm.dnssecOnce.Do(func() { pm.dnssec = dnssec.NewMetrics(pm.reg) })
	return pm.dnssec
}

func (pm *processMetrics) recursiveMetrics() *recursive.Metrics {
	if pm == nil {
		return nil
	}
	pm.recursiveOnce.Do(func() { pm.recursive = recursive.NewMetrics(pm.reg) })
	return pm.recursive
}
