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
// same ones.
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

	// Registered on first use (lazy).
	dnstap    lazy[dnstap.Metrics]
	recursive lazy[recursive.Metrics]
	dnssec    lazy[dnssec.Metrics]
	sightings lazy[sightings.Metrics] // sightings.go
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
	if ok {
		pm.reloads.WithLabelValues(reloadSuccess).Inc()
		pm.reloadOK.Set(1)
		pm.reloadAt.Set(float64(at.Unix()))
		return
	}
	pm.reloads.WithLabelValues(reloadFailure).Inc()
	pm.reloadOK.Set(0)
}

// lazy is one package's Metrics registered on first use, so that its
// series appear only once a configuration turns the package on (as the
// README says).
type lazy[M any] struct {
	once sync.Once
	m    *M
}

// get returns l's Metrics, made with newM on reg by the first call.
func (l *lazy[M]) get(reg prometheus.Registerer, newM func(prometheus.Registerer) *M) *M {
	l.once.Do(func() { l.m = newM(reg) })
	return l.m
}
