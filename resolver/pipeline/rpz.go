package pipeline

import (
	"context"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// The response-policy triggers beyond the query name, in the order the
// RPZ specification gives them (draft-vixie-dnsop-dns-rpz §5): zones in
// list order, and within a zone client-ip, qname, ip, nsdname, nsip.
// decideQuery is the decision before resolution (client-ip, qname), on
// both paths; checkAnswer the one after it (CNAME targets, then rpz-ip).

// decideQuery is the policy's decision on a query before it is resolved:
// the deciding rule of the client's address (rpz-client-ip) or of the
// query name, whichever is in the earlier list (client-ip first within
// one), and whether it blocks. bound is the list that decided (passthru
// included): later lists' answer triggers no longer apply. An allowlist
// (allowlists:) decides for everyone, clients listed or not, and lifts
// the answer triggers (rpz-ip, rpz-nsdname, rpz-nsip) of every list too.
//
// Address rules apply to a tenant as name rules do: only its lists', with
// its action overrides. (When the client-ip rule in the earliest list is
// in a list the tenant does not use, the tenant's later lists' client-ip
// rules are not consulted: RPZ zones shared per tenant are expected to be
// subscribed whole.)
func (p *Policy) decideQuery(t *blocklist.Table, client netip.Addr, name string, ten *tenant.Tenant) (d query.Decision, blocked bool, bound int) {
	d, ok := p.match(t, name, ten)
	m := d.Match
	if ok && m.Allow && int(m.Payload.List) < len(t.Lists) && t.Lists[m.Payload.List].Allow {
		return d, false, 0 // an allowlisted name: no answer trigger applies either
	}
	limit := blocklist.NoList
	if ok {
		limit = int(m.Payload.List) + 1 // client-ip ranks before qname within a zone
	}
	if c, hit := t.ClientIPRule(client, limit, p.viewOf(ten)); hit {
		d, ok = p.netDecision(t, c, blocklist.TriggerClientIP, ten), true
	}
	if !ok {
		return d, false, blocklist.NoList
	}
	return d, !d.Match.Allow, int(d.Match.Payload.List)
}

// netDecision is the decision of an address rule. Its Match names the
// whole query name (offset 0), so that the SOA of a negative answer is
// owned by the query name.
func (p *Policy) netDecision(t *blocklist.Table, m blocklist.NetMatch, kind blocklist.Trigger, ten *tenant.Tenant) query.Decision {
	d := p.decision(t, blocklist.Match{Allow: m.Allow, Scope: blocklist.Exact, Payload: m.Payload}, ten)
	d.Trigger, d.Prefix = kind, m.Prefix
	return d
}

// enforced reports whether a blocking decision acts on a query that came
// over proto: rpz-tcp-only asks UDP clients to come back over TCP and
// lets TCP, DoT and DoH through as if unlisted.
func enforced(d query.Decision, proto query.Proto) bool {
	return d.Match.Payload.Action != blocklist.ActionTCPOnly || proto == query.ProtoUDP
}

// checkAnswer is the response policy, after resolution: every CNAME or
// DNAME target in the answer is a name the client will end up
// connecting to, and every A/AAAA address (rpz-ip) is where it will
// connect. Only lists before bound apply (an earlier zone's passthru
// wins, never a later one's). It returns the answer or the block.
func (p *Policy) checkAnswer(ctx context.Context, req *query.Request, t *blocklist.Table, resp *dns.Msg, bound int) (*dns.Msg, error) {
	for _, rr := range resp.Answer {
		if target, ok := aliasTarget(rr); ok {
			if d, blocked := p.decide(t, target, req.Tenant); blocked {
				d.CNAME = dnswire.Canonical(target)
				return p.block(ctx, req, d)
			}
		}
	}
	p.whatIfAnswer(req, t, resp.Answer) // log-only lists (whatif.go)
	d, blocked := p.answerIPDecision(t, resp.Answer, bound, req.Tenant)
	if p.servers != nil && (t.NSDName != nil || t.NSIP != nil) {
		if blocked {
			bound = int(d.Match.Payload.List) // ip ranks above nsdname and nsip in its zone: only earlier zones may override
		}
		if n, hit := p.serverDecision(t, req.Question.Name, resp.Answer, bound, req.Tenant); hit {
			d, blocked = n, !n.Match.Allow
		}
	}
	if blocked && enforced(d, req.Proto) {
		return p.block(ctx, req, d)
	}
	return resp, nil
}

// ServerSource reports the authoritative servers used for a name, for the
// rpz-nsdname and rpz-nsip triggers; the recursive resolver is one
// (recursive.Resolver.Servers). Forwarders have none.
type ServerSource interface {
	Servers(name string, fn func(host string, addrs []netip.Addr))
}

// serverDecision finds the rpz-nsdname or rpz-nsip rule deciding for the
// servers of name and of every CNAME or DNAME target in answer (the zones
// the answer was really taken from) among the lists before bound: the
// earliest list, and in one list a name before an address.
func (p *Policy) serverDecision(t *blocklist.Table, name string, answer []dns.RR, bound int, ten *tenant.Tenant) (query.Decision, bool) {
	var best query.Decision
	found := false
	v := p.viewOf(ten)
	check := func(host string, addrs []netip.Addr) {
		name, addr, byName, hit := t.ServerRule(host, addrs, bound, v)
		switch {
		case !hit:
			return
		case byName:
			// CNAME carries the server's name: the rule is recovered
			// from it, and the negative answer's SOA stays the query's.
			best = p.decision(t, name, ten)
			best.CNAME, best.Trigger = dnswire.Canonical(host), blocklist.TriggerNSDName
		default:
			best = p.netDecision(t, addr, blocklist.TriggerNSIP, ten)
		}
		found, bound = true, int(best.Match.Payload.List)
	}
	p.servers.Servers(name, check)
	for _, rr := range answer {
		if target, ok := aliasTarget(rr); ok {
			p.servers.Servers(target, check)
		}
	}
	return best, found
}

// answerIPDecision finds the rpz-ip rule deciding for the answer's
// addresses: of all the addresses' rules, the one in the earliest list.
func (p *Policy) answerIPDecision(t *blocklist.Table, answer []dns.RR, bound int, ten *tenant.Tenant) (query.Decision, bool) {
	if t.IP == nil {
		return query.Decision{}, false
	}
	var buf [8]netip.Addr
	addrs := buf[:0]
	for _, rr := range answer {
		if a, ok := answerAddr(rr); ok {
			addrs = append(addrs, a)
		}
	}
	best, _, found := t.AnswerIPRule(addrs, bound, p.viewOf(ten))
	if !found || best.Allow {
		return query.Decision{}, false
	}
	return p.netDecision(t, best, blocklist.TriggerIP, ten), true
}

// answerAddr is the address of an A or AAAA record, a v4-mapped one as
// IPv4, as address triggers are matched.
func answerAddr(rr dns.RR) (netip.Addr, bool) {
	a, ok := dnswire.Addr(rr)
	return a.Unmap(), ok
}

// servesServers reports whether answers may skip the policy as far as the
// name-server triggers go: not while rpz-nsdname or rpz-nsip rules are
// loaded and the route knows its servers (the chain asks them).
func (p *Policy) servesServers(t *blocklist.Table) bool {
	return t == nil || p.servers == nil || t.NSDName == nil && t.NSIP == nil
}
