package main

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverStats is GET /stats: a summary an operator reads at a glance. It
// is computed from the Prometheus registry, so it always agrees with
// /metrics and counts nothing twice. Counters run since the start.
type serverStats struct {
	Version       string    `json:"version"`
	Config        string    `json:"config"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Ready         bool      `json:"ready"`
	NotReady      string    `json:"not_ready,omitempty"`
	Reloads       struct {
		Success     float64    `json:"success"`
		Failure     float64    `json:"failure"`
		LastSuccess *time.Time `json:"last_success,omitempty"` // when the running config was loaded
		LastError   string     `json:"last_error,omitempty"`   // of the last reload, if it failed
	} `json:"reloads"`
	// Queries by transport (udp, tcp, dot, doh) and in total.
	Queries   map[string]float64 `json:"queries"`
	Responses map[string]float64 `json:"responses"` // by rcode; "dropped" for silence
	Blocked   struct {
		Total  float64            `json:"total"`
		ByList map[string]float64 `json:"by_list"`
	} `json:"blocked"`
	// Rejected counts queries turned away before the policy.
	Rejected struct {
		ACL         float64 `json:"acl_denied"`
		RateLimited float64 `json:"ratelimited"`
		Overload    float64 `json:"overload_dropped"`
		Malformed   float64 `json:"malformed"`
	} `json:"rejected"`
	Cache struct {
		Entries  float64  `json:"entries"`
		Hits     float64  `json:"hits"`
		Misses   float64  `json:"misses"`
		HitRatio *float64 `json:"hit_ratio,omitempty"`
	} `json:"cache"`
	Upstreams []upstreamStats `json:"upstreams"`
	// Tenants are the configured tenants' counts (tenants.go); the
	// default policy's are the totals less theirs.
	Tenants   map[string]tenantStats `json:"tenants,omitempty"`
	Blocklist struct {
		Lists int     `json:"lists"`
		Rules float64 `json:"rules"`
		Bytes float64 `json:"bytes"`
	} `json:"blocklist"`
}

type upstreamStats struct {
	Upstream    string             `json:"upstream"`
	Healthy     bool               `json:"healthy"`
	SRTTSeconds float64            `json:"srtt_seconds"`
	Requests    map[string]float64 `json:"requests"` // by result
}

// handleStats is GET /stats.
func (d *daemon) handleStats(w http.ResponseWriter, r *http.Request) {
	st, err := d.stats(time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (d *daemon) stats(now time.Time) (*serverStats, error) {
	g, err := gatherer(d.pm.reg)
	if err != nil {
		return nil, err
	}
	st := &serverStats{Version: version, Config: d.name, Started: d.started.UTC(), UptimeSeconds: now.Sub(d.started).Seconds()}
	if err := d.readiness(); err != nil {
		st.NotReady = err.Error()
	} else {
		st.Ready = true
	}
	st.Reloads.Success = g.sum("bulwark_config_reloads_total", "result", reloadSuccess)
	st.Reloads.Failure = g.sum("bulwark_config_reloads_total", "result", reloadFailure)
	if at := g.sum("bulwark_config_last_reload_success_timestamp_seconds"); at > 0 {
		st.Reloads.LastSuccess = timePtr(time.Unix(int64(at), 0))
	}
	if e := d.lastErr.Load(); e != nil {
		st.Reloads.LastError = *e
	}

	st.Queries = g.by("bulwark_queries_total", "proto")
	total := 0.0
	for _, v := range st.Queries {
		total += v
	}
	st.Queries["total"] = total
	st.Responses = g.by("bulwark_responses_total", "rcode")
	st.Blocked.ByList = g.by("bulwark_blocked_total", "list")
	st.Blocked.Total = g.sum("bulwark_blocked_total")
	st.Rejected.ACL = g.sum("bulwark_acl_denied_total")
	st.Rejected.RateLimited = g.sum("bulwark_ratelimited_total")
	st.Rejected.Overload = g.sum("bulwark_overload_dropped_total")
	st.Rejected.Malformed = g.sum("bulwark_malformed_queries_total")
	st.Cache.Entries = g.sum("bulwark_cache_entries")
	st.Cache.Hits = g.sum("bulwark_cache_hits_total")
	st.Cache.Misses = g.sum("bulwark_cache_misses_total")
	if n := st.Cache.Hits + st.Cache.Misses; n > 0 {
		ratio := st.Cache.Hits / n
		st.Cache.HitRatio = &ratio
	}
	st.Blocklist.Rules = g.sum("bulwark_blocklist_entries")
	st.Blocklist.Bytes = g.sum("bulwark_blocklist_bytes")
	st.Upstreams = []upstreamStats{}
	if gen := d.cur.Load(); gen != nil {
		st.Blocklist.Lists = len(gen.cfg.Blocklists) + len(gen.cfg.Allowlists)
		st.Tenants = g.tenants(gen.cfg)
		// The upstreams of the running configuration only: series of
		// servers a reload removed are history.
		var names []string
		for _, s := range gen.cfg.Upstream.Servers {
			names = append(names, s)
		}
		for _, c := range gen.cfg.Upstream.Conditional {
			names = append(names, c.Servers...)
		}
		for _, name := range names {
			if slices.ContainsFunc(st.Upstreams, func(u upstreamStats) bool { return u.Upstream == name }) {
				continue
			}
			st.Upstreams = append(st.Upstreams, upstreamStats{
				Upstream:    name,
				Healthy:     g.sum("bulwark_upstream_healthy", "upstream", name) == 1,
				SRTTSeconds: g.sum("bulwark_upstream_srtt_seconds", "upstream", name),
				Requests:    g.byWhere("bulwark_upstream_requests_total", "result", "upstream", name),
			})
		}
	}
	return st, nil
}

// gathered is one snapshot of the registry, read by metric name.
type gathered struct {
	values map[string][]sample
}

type sample struct {
	labels map[string]string
	value  float64
}

func gatherer(reg *prometheus.Registry) (*gathered, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	g := &gathered{values: map[string][]sample{}}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.value = m.GetGauge().GetValue()
			default:
				continue
			}
			g.values[mf.GetName()] = append(g.values[mf.GetName()], s)
		}
	}
	return g, nil
}

// sum adds the series of name whose labels match the name/value pairs.
func (g *gathered) sum(name string, labels ...string) float64 {
	total := 0.0
	for _, s := range g.values[name] {
		if s.matches(labels) {
			total += s.value
		}
	}
	return total
}

// by sums the series of name by the value of label.
func (g *gathered) by(name, label string) map[string]float64 {
	return g.byWhere(name, label)
}

// byWhere is by over the series matching the name/value pairs.
func (g *gathered) byWhere(name, label string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range g.values[name] {
		if s.matches(labels) {
			out[s.labels[label]] += s.value
		}
	}
	return out
}

func (s sample) matches(labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if s.labels[labels[i]] != labels[i+1] {
			return false
		}
	}
	return true
}
