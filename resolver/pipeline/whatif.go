package pipeline

import (
	"time"

	"github.com/miekg/dns"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/promx"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// Log-only ("what-if") lists are on trial: their rules sit in
// Table.WhatIf, apart from the enforced Set, so that they can neither
// block nor shadow an enforced rule. Every query is matched against them
// too; a would-be block is counted and written to the block log with
// log_only set, and the query goes on as if the list were not there.
// The rpz-client-ip and rpz-ip rules of such lists are tried too
// (Table.WhatIfClientIP, WhatIfIP). While such a list is configured, UDP
// queries take the chain rather than the fast path.

func newWhatIfCounter(f promx.Factory) *prometheus.CounterVec {
	return f.CounterVec("bulwark_log_only_matches_total",
		"Queries a log-only list would have blocked (nothing was blocked by it), by list, action and category.", "list", "action", "category")
}

// whatIf logs and counts what the log-only lists of t would do with the
// query name and the client (rpz-client-ip).
func (p *Policy) whatIf(req *query.Request, t *blocklist.Table) {
	if t.WhatIf != nil {
		if m, ok := t.WhatIf.Match(req.Question.Name); ok && !m.Allow {
			p.logOnly(req, query.Decision{Table: t, Match: m, Tenant: req.Tenant})
		}
	}
	if m, ok := t.WhatIfClientIP.Match(req.Client.Addr(), blocklist.NoList); ok && !m.Allow {
		p.logOnly(req, p.netDecision(t, m, blocklist.TriggerClientIP, req.Tenant))
	}
}

// whatIfAnswer logs and counts what the log-only lists' rpz-ip rules
// would do with the answer.
func (p *Policy) whatIfAnswer(req *query.Request, t *blocklist.Table, answer []dns.RR) {
	if t.WhatIfIP == nil {
		return
	}
	for _, rr := range answer {
		if a, ok := answerAddr(rr); ok {
			if m, hit := t.WhatIfIP.Match(a, blocklist.NoList); hit && !m.Allow {
				p.logOnly(req, p.netDecision(t, m, blocklist.TriggerIP, req.Tenant))
				return
			}
		}
	}
}

// logOnly counts and logs one would-be block of a log-only list.
func (p *Policy) logOnly(req *query.Request, d query.Decision) {
	pl, t := d.Match.Payload, d.Table
	if p.metrics != nil {
		var list, category string
		if int(pl.List) < len(t.Lists) {
			list = t.Lists[pl.List].Name
		}
		if int(pl.Category) < len(t.Categories) {
			category = t.Categories[pl.Category]
		}
		p.metrics.whatIf.WithLabelValues(list, pl.Action.String(), category).Inc()
	}
	if p.log.Enabled() {
		p.log.Log(logs.BlockRecord{At: time.Now(), Client: req.Client.Addr(), Proto: req.Proto, QType: req.Question.Qtype,
			QName: dnswire.Canonical(req.Question.Name), Decision: d, LogOnly: true})
	}
}
