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
	var list blocklist.ListInfo
	if int(m.Payload.List) < len(t.Lists) {
		list = t.Lists[m.Payload.List]
	}
	list.Sinkhole = t.SinkholeAddrs(m.Payload) // a rule's own (RPZ local data) win
	var category string
	if int(m.Payload.Category) < len(t.Categories) {
		category = t.Categories[m.Payload.Category]
	}
	action := m.Payload.Action
	ruleName := m.RuleName(name)
	p.metrics.countBlocked(list.Name, action.String(), category)
	ev := BlockEvent{
		Time:     time.Now().UTC(),
		Client:   req.Client.Addr().String(),
		Protocol: req.Proto.String(),
		QName:    canonical(req.Question.Name),
		QType:    dns.Type(req.Question.Qtype).String(),
		List:     list.Name,
		Rule:     m.RuleText(name),
		Action:   action.String(),
		Category: category,
	}
	if cname != "" {
		ev.CNAME = canonical(cname)
	}
	p.log.Log(ev)
	return blockAnswer(req, action, list, ruleName, p.ttl)
}
