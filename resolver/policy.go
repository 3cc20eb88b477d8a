package resolver

import (
	"context"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/miekg/dns"
)

// Tables gives the policy the current list snapshot. *atomic.Pointer
// satisfies it; a refresh swaps the pointer and the next query sees the new
// lists, with no lock on the query path.
type Tables interface {
	Load() *blocklist.Table
}

// Policy is the blocklist step: it answers a query whose name is blocked,
// passes the rest on, and checks the answer that comes back so that a CNAME
// chain reaching a blocked name is blocked too (CNAME cloaking). It sits
// above the cache, so the cache never holds a blocked answer and a list
// change takes effect on the next query.
type Policy struct {
	tables  Tables
	next    Resolver
	ttl     uint32
	log     *BlockLog
	metrics *Metrics
}

// NewPolicy returns the policy step in front of next.
func NewPolicy(cfg BlockingConfig, tables Tables, next Resolver, log *BlockLog, m *Metrics) *Policy {
	return &Policy{tables: tables, next: next, ttl: uint32(cfg.TTL / time.Second), log: log, metrics: m}
}

// Resolve implements Resolver.
func (p *Policy) Resolve(ctx context.Context, req *Request) (*dns.Msg, error) {
	t := p.tables.Load()
	if t != nil {
		p.whatIf(req, t) // log-only lists (whatif.go)
		if m, ok := t.Set.Match(req.Question.Name); ok && !m.Allow {
			return p.block(req, t, m, req.Question.Name, "")
		}
	}
	resp, err := p.next.Resolve(ctx, req)
	if err != nil || resp == nil || t == nil {
		return resp, err
	}
	// Response policy: every CNAME/DNAME target in the answer is a name the
	// client will end up connecting to.
	for _, rr := range resp.Answer {
		var target string
		switch rr := rr.(type) {
		case *dns.CNAME:
			target = rr.Target
		case *dns.DNAME:
			target = rr.Target
		default:
			continue
		}
		if m, ok := t.Set.Match(target); ok && !m.Allow {
			return p.block(req, t, m, target, target)
		}
	}
	return resp, nil
}

// block answers req as the deciding rule m says; name is the name m was
// matched against (the query name, or a CNAME target when cname is set).
func (p *Policy) block(req *Request, t *blocklist.Table, m blocklist.Match, name, cname string) (*dns.Msg, error) {
	qname := canonical(req.Question.Name)
	rec := blockRecord{at: time.Now(), client: req.Client.Addr(), proto: req.Proto, qtype: req.Question.Qtype,
		qname: qname, table: t, match: m}
	if cname != "" {
		rec.cname = canonical(cname)
	}
	p.count(rec)
	list := listOf(t, m)
	return blockAnswer(req, m.Payload.Action, list, m.RuleName(name), p.ttl)
}

// count counts and logs one block, on whichever path answered it.
func (p *Policy) count(rec blockRecord) {
	p.metrics.countBlocked(rec.table, rec.match.Payload)
	if p.log.enabled() {
		p.log.log(rec)
	}
}

// listOf is the list of the deciding rule, with the rule's own sinkhole
// addresses (RPZ local data) in place of the list's when it has them.
func listOf(t *blocklist.Table, m blocklist.Match) blocklist.ListInfo {
	var list blocklist.ListInfo
	if int(m.Payload.List) < len(t.Lists) {
		list = t.Lists[m.Payload.List]
	}
	list.Sinkhole = t.SinkholeAddrs(m.Payload)
	return list
}
