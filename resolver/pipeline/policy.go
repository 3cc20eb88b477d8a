package pipeline

import (
	"context"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
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
	// def is the default policy's tenant when its view is not every list
	// (a tenant claimed an allow list); nil: Set.Match decides.
	def     *tenant.Tenant
	tenants *tenants // nil: no tenants
}

// useTenants makes the policy decide with each request's tenant.
func (p *Policy) useTenants(ts *tenants) {
	p.tenants = ts
	if d := ts.sel.Default(); !d.AllLists() {
		p.def = d
	}
}

// NewPolicy returns the policy step in front of next.
func NewPolicy(cfg BlockingConfig, tables Tables, next query.Resolver, log *logs.BlockLog, m *Metrics) *Policy {
	return &Policy{tables: tables, next: next, ttl: uint32(cfg.TTL / time.Second), log: log, metrics: m}
}

// decide is the policy's decision on one name for tenant ten (nil: the
// default policy): whether it blocks, and the deciding rule of t. Both the
// chain and the UDP fast path ask here.
func (p *Policy) decide(t *blocklist.Table, name string, ten *tenant.Tenant) (query.Decision, bool) {
	d, ok := p.match(t, name, ten)
	return d, ok && !d.Match.Allow
}

// match is the rule of t deciding name among tenant ten's lists, allow
// rules included: most specific wins, allow wins a tie, a feed's own
// exceptions lift only its blocks (docs/ARCHITECTURE.md); its action is
// the tenant's override if it has one.
func (p *Policy) match(t *blocklist.Table, name string, ten *tenant.Tenant) (query.Decision, bool) {
	m, ok := t.DecideView(name, p.viewOf(ten)) // feed trust (blocklist/trust.go)
	return p.decision(t, m, ten), ok
}

// viewOf is the view tenant ten decides with: nil for every list.
func (p *Policy) viewOf(ten *tenant.Tenant) blocklist.View {
	if ten == nil {
		ten = p.def
	}
	return ten.ListView()
}

// decision is m as tenant ten's policy applies it: with its action
// override.
func (p *Policy) decision(t *blocklist.Table, m blocklist.Match, ten *tenant.Tenant) query.Decision {
	if ten != nil && !m.Allow {
		m.Payload.Action = ten.Action(m.Payload.List, m.Payload.Action)
	}
	return query.Decision{Table: t, Match: m, Tenant: ten}
}

// Resolve implements query.Resolver.
func (p *Policy) Resolve(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	t := p.tables.Load()
	bound := blocklist.NoList
	if t != nil {
		p.whatIf(req, t) // log-only lists (whatif.go)
		// client-ip and qname, in RPZ order (rpz.go)
		d, blocked, b := p.decideQuery(t, req.Client.Addr(), req.Question.Name, req.Tenant)
		if blocked && enforced(d, req.Proto) {
			return p.block(ctx, req, d)
		}
		bound = b
	}
	if req.Wire != nil {
		req.Wire.Check = p.wireCheck(t)
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

// ServesWire, ChecksAddrs and ServesAddr tell the cache (cache.AddrCheck)
// whether a cached answer may go to the client without the policy seeing
// it, as the UDP fast path sends cached answers: only when it holds no
// CNAME or DNAME, whose targets the response policy must check on every
// answer (the lists change under the cache), no address an rpz-ip rule
// lists, and no rpz-nsdname/nsip rule needs the servers asked (rpz.go).
// The cache hands ServesWire the answer's aliases and ServesAddr each of
// its addresses, read from the wire form.
func (p *Policy) ServesWire(aliases []dns.RR) bool {
	for _, rr := range aliases {
		if t := rr.Header().Rrtype; t == dns.TypeCNAME || t == dns.TypeDNAME {
			return false
		}
	}
	return p.servesServers(p.tables.Load())
}

// wireCheck is the check under which the cache may send an answer to the
// client in wire form, past checkAnswer (query.WireAnswer): the policy
// itself, as for the fast path's hits, unless log-only lists are loaded,
// whose answer triggers are matched on the decoded answer (whatif.go).
func (p *Policy) wireCheck(t *blocklist.Table) interface{ ServesWire([]dns.RR) bool } {
	if logOnlyLoaded(t) {
		return nil
	}
	return p
}

// logOnlyLoaded reports whether t has log-only lists, which are matched
// in the chain on the decoded query and answer (whatif.go): neither the
// fast path nor a wire answer skips them.
func logOnlyLoaded(t *blocklist.Table) bool {
	return t != nil && (t.WhatIf != nil || t.WhatIfClientIP != nil || t.WhatIfIP != nil)
}

// ServesAliases tells the cache (cache.AliasCheck) that ServesWire refuses
// every answer holding a CNAME or DNAME, so that it need not decode one to
// hand over its aliases.
func (p *Policy) ServesAliases() bool { return false }

// ChecksAddrs reports whether ServesAddr must be asked: while rpz-ip rules
// are loaded.
func (p *Policy) ChecksAddrs() bool {
	t := p.tables.Load()
	return t != nil && t.IP != nil
}

// ServesAddr reports whether an answer holding a may skip the policy: a
// listed address needs the chain, which knows which zone the query passed.
func (p *Policy) ServesAddr(a netip.Addr) bool {
	t := p.tables.Load()
	if t == nil || t.IP == nil {
		return true
	}
	_, hit := t.IP.Match(a, blocklist.NoList)
	return !hit
}

// record counts and logs one block, on whichever path answered it. name
// is the query name as it was matched, canonical (dnswire.Canonical: lower
// case, no trailing dot): the fast path reads it so off the wire, and
// lower-casing it again took 4% of BenchmarkReaderBlocked. The block
// log's queue and the sink keep it past the call: the chain's name is its
// own string, the fast path's aliases a reused buffer, so it passes the
// arena to copy it into (nil: name is kept as it is).
func (p *Policy) record(at time.Time, client netip.Addr, proto query.Proto, qtype uint16, name string, d query.Decision, names *nameArena) {
	p.metrics.countBlocked(d.Table, d.Match.Payload)
	if p.tenants != nil {
		p.tenants.metrics.countBlocked(&d)
	}
	if !p.log.Enabled() && p.sink == nil {
		return
	}
	if names != nil {
		name = names.clone(name)
	}
	if p.log.Enabled() {
		p.log.Log(logs.BlockRecord{At: at, Client: client, Proto: proto, QType: qtype, QName: name, Decision: d})
	}
	if p.sink != nil {
		matched := name
		if d.CNAME != "" {
			matched = d.CNAME
		}
		p.sink.Blocked(query.BlockHit{At: at, Client: client, Tenant: d.TenantName(), Table: d.Table, Match: d.Match, Name: matched})
	}
}

// listOf is the list of the deciding rule, with the rule's own sinkhole
// addresses (RPZ local data) in place of the list's when it has them, and
// the tenant's when its override made the action sinkhole.
func listOf(d *query.Decision) blocklist.ListInfo {
	t, m := d.Table, d.Match
	var list blocklist.ListInfo
	if int(m.Payload.List) < len(t.Lists) {
		list = t.Lists[m.Payload.List]
	}
	list.Sinkhole = d.Tenant.SinkholeFor(t, m.Payload)
	return list
}
