package pipeline

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
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
	next    query.Resolver
	ttl     uint32
	log     *logs.BlockLog
	metrics *Metrics
	sink    query.BlockSink // nil: none
	servers ServerSource    // nil: the route knows no servers (forwarding)
}

// NewPolicy returns the policy step in front of next.
func NewPolicy(cfg BlockingConfig, tables Tables, next query.Resolver, log *logs.BlockLog, m *Metrics) *Policy {
	return &Policy{tables: tables, next: next, ttl: uint32(cfg.TTL / time.Second), log: log, metrics: m}
}

// decide is the policy's decision on one name: the deciding rule of t,
// and whether it blocks. The rule that decides is the table's (most
// specific wins, allow wins a tie, a feed's own exceptions lift only its
// blocks: docs/ARCHITECTURE.md); both the chain and the UDP fast path ask
// here.
func (p *Policy) decide(t *blocklist.Table, name string) (blocklist.Match, bool) {
	m, ok := t.Decide(name) // feed trust (blocklist/trust.go)
	return m, ok && !m.Allow
}

// Resolve implements query.Resolver.
func (p *Policy) Resolve(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	t := p.tables.Load()
	bound := blocklist.NoList
	if t != nil {
		p.whatIf(req, t) // log-only lists (whatif.go)
		// client-ip and qname, in RPZ order (rpz.go)
		d, blocked, b := p.decideQuery(t, req.Client.Addr(), req.Question.Name)
		if blocked && enforced(d, req.Proto) {
			return p.block(ctx, req, d)
		}
		bound = b
	}
	resp, err := p.next.Resolve(ctx, req)
	if err != nil || resp == nil || t == nil {
		return resp, err
	}
	return p.checkAnswer(ctx, req, t, resp, bound) // CNAME targets, rpz-ip (rpz.go)
}

// aliasTarget is the target of a CNAME or DNAME record.
func aliasTarget(rr dns.RR) (string, bool) {
	switch rr := rr.(type) {
	case *dns.CNAME:
		return rr.Target, true
	case *dns.DNAME:
		return rr.Target, true
	}
	return "", false
}

// ServesWire reports whether a cached answer may go to the client without
// the policy seeing it, as the UDP fast path sends cached answers: only
// when it holds no CNAME or DNAME, whose targets the response policy must
// check on every answer (the lists change under the cache), and no
// address an rpz-ip rule lists.
func (p *Policy) ServesWire(answer []dns.RR) bool {
	for _, rr := range answer {
		if t := rr.Header().Rrtype; t == dns.TypeCNAME || t == dns.TypeDNAME {
			return false
		}
	}
	return p.servesAddrs(p.tables.Load(), answer) // rpz-ip, rpz-ns* (rpz.go)
}

// record counts and logs one block, on whichever path answered it. qname
// is the query name as it was matched; it may alias a reused buffer, so
// the log gets its own copy.
func (p *Policy) record(at time.Time, client netip.Addr, proto query.Proto, qtype uint16, qname string, d query.Decision) {
	p.metrics.countBlocked(d.Table, d.Match.Payload)
	if !p.log.Enabled() && p.sink == nil {
		return
	}
	name := strings.Clone(dnswire.Canonical(qname))
	if p.log.Enabled() {
		p.log.Log(logs.BlockRecord{At: at, Client: client, Proto: proto, QType: qtype, QName: name, Decision: d})
	}
	if p.sink != nil {
		matched := name
		if d.CNAME != "" {
			matched = d.CNAME
		}
		p.sink.Blocked(query.BlockHit{At: at, Client: client, Table: d.Table, Match: d.Match, Name: matched})
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
