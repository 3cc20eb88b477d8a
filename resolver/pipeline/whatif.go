package pipeline

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// Log-only ("what-if") lists are on trial: their rules sit in
// Table.WhatIf, apart from the enforced Set, so that they can neither
// block nor shadow an enforced rule. Every query is matched against them
// too; a would-be block is counted and written to the block log with
// log_only set, and the query goes on as if the list were not there.
// While such a list is configured, UDP queries take the chain rather than
// the fast path.

func newWhatIfCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bulwark_log_only_matches_total",
		Help: "Queries a log-only list would have blocked (nothing was blocked by it), by list, action and category.",
	}, []string{"list", "action", "category"})
}

// whatIf logs and counts what the log-only lists of t would do with the
// query name.
func (p *Policy) whatIf(req *query.Request, t *blocklist.Table) {
	if t.WhatIf == nil {
		return
	}
	m, ok := t.WhatIf.Match(req.Question.Name)
	if !ok || m.Allow {
		return
	}
	if p.metrics != nil {
		var list, category string
		if int(m.Payload.List) < len(t.Lists) {
			list = t.Lists[m.Payload.List].Name
		}
		if int(m.Payload.Category) < len(t.Categories) {
			category = t.Categories[m.Payload.Category]
		}
		p.metrics.whatIf.WithLabelValues(list, m.Payload.Action.String(), category).Inc()
	}
	if p.log.Enabled() {
		p.log.Log(logs.BlockRecord{At: time.Now(), Client: req.Client.Addr(), Proto: req.Proto, QType: req.Question.Qtype,
			QName: dnswire.Canonical(req.Question.Name), Decision: query.Decision{Table: t, Match: m, Tenant: req.Tenant}, LogOnly: true})
	}
}
