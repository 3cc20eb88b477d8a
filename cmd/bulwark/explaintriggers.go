package main

import (
	"fmt"
	"net/netip"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// The RPZ triggers beyond the name in explain: the rpz-client-ip rules of
// the client (-client, ?client=), the rpz-ip rules of answer addresses
// (-addr, ?addr=: explain does not resolve) and the rpz-nsdname and
// rpz-nsip rules of server names or addresses (-ns, ?ns=), decided in the
// order the policy decides them (resolver/pipeline/rpz.go): zones in list
// order, and within one client-ip, qname, ip, nsdname, nsip.

// explainedTrigger is one rule of a trigger kind other than the name that
// applies to the client, an answer address or a server.
type explainedTrigger struct {
	Trigger  string   `json:"trigger"` // rpz-client-ip, rpz-ip, rpz-nsdname, rpz-nsip
	Matched  string   `json:"matched"` // the address or server name it applies to
	List     string   `json:"list"`
	Kind     string   `json:"kind"` // block or allow
	Rule     string   `json:"rule"` // the network, or the server name ("*.name" below it)
	Action   string   `json:"action,omitempty"`
	Sinkhole []string `json:"sinkhole,omitempty"`
	Source   string   `json:"source,omitempty"`
	// Lost says why the rule does not decide; empty for the one that does.
	Lost string `json:"lost,omitempty"`
}

// triggerArgs are what explain is told of the query beyond its name.
type triggerArgs struct {
	client  netip.Addr   // invalid: not given
	addrs   []netip.Addr // the answer's addresses
	servers []string     // server names and addresses, as given
}

// parseTriggerArgs checks the -client, -addr and -ns values.
func parseTriggerArgs(w explainWho) (triggerArgs, error) {
	var a triggerArgs
	if w.client != "" {
		c, err := netip.ParseAddr(w.client)
		if err != nil {
			return a, fmt.Errorf("client %q is not an IP address", w.client)
		}
		a.client = c.Unmap()
	}
	for _, s := range w.addrs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return a, fmt.Errorf("answer address %q is not an IP address", s)
		}
		a.addrs = append(a.addrs, ip.Unmap())
	}
	for _, s := range w.servers {
		if _, err := netip.ParseAddr(s); err != nil {
			if _, err := feeds.CanonicalQuery(s); err != nil || s == "" || s == "." {
				return a, fmt.Errorf("server %q is neither a name nor an IP address", s)
			}
		}
		a.servers = append(a.servers, s)
	}
	return a, nil
}

// triggerDecider walks the triggers in the policy's order, keeping the
// decision so far.
type triggerDecider struct {
	ex    *explanation
	rules *feeds.Rules
	t     *blocklist.Table
	cfg   *config.Config
	ten   *tenant.Tenant
	q     string
	// bound is the list that decided so far (passthru included), and why
	// says so: the rules of that list and later ones lose for that reason.
	bound int
	why   string
	// skip, when set, is why no trigger after the name can apply at all
	// (an allowlist passes the name; the query is blocked unresolved).
	skip string
}

// addTriggers adds to ex the trigger rules that apply to a, and lets the
// deciding one decide as the policy would.
func (ex *explanation) addTriggers(rules *feeds.Rules, cfg *config.Config, q string, a triggerArgs, ten *tenant.Tenant) {
	if !a.client.IsValid() && len(a.addrs) == 0 && len(a.servers) == 0 {
		return
	}
	t := rules.Table()
	d := &triggerDecider{ex: ex, rules: rules, t: t, cfg: cfg, ten: ten, q: q, bound: blocklist.NoList}
	decided, ok := matchFor(t, q, ten)
	blocked := ok && !decided.Allow
	if ok {
		d.bound = int(decided.Payload.List)
		d.why = fmt.Sprintf("the name's rule in list %q decides first", t.Lists[decided.Payload.List].Name)
		if decided.Allow && t.Lists[decided.Payload.List].Allow {
			d.skip = "an allowlist passes the name: no other trigger applies"
		}
	}
	if a.client.IsValid() {
		limit := blocklist.NoList
		if ok {
			limit = d.bound + 1 // client-ip ranks before qname within a zone
		}
		var win blocklist.NetMatch
		hit := false
		if d.skip == "" {
			win, hit = t.ClientIPRule(a.client, limit, ten.ListView())
		}
		d.add(blocklist.TriggerClientIP, a.client.String(), rules.MatchingAddr(blocklist.TriggerClientIP, a.client), win, hit, limit)
		if hit {
			d.decide(blocklist.TriggerClientIP, win)
			blocked = !win.Allow
		}
	}
	if blocked && d.skip == "" {
		d.skip = "the query is blocked before it is resolved"
	}
	// rpz-ip: of every address's rules, the one in the earliest list.
	var best blocklist.NetMatch
	var bestAt netip.Addr
	found := false
	limit := d.bound
	if d.skip == "" {
		best, bestAt, found = t.AnswerIPRule(a.addrs, limit, ten.ListView())
	}
	for _, ip := range a.addrs {
		d.add(blocklist.TriggerIP, ip.String(), rules.MatchingAddr(blocklist.TriggerIP, ip), best, found && ip == bestAt, limit)
	}
	if found && best.Allow { // the pipeline lets the answer through and asks the server triggers on
		for i := range ex.Triggers {
			if r := &ex.Triggers[i]; r.Trigger == blocklist.TriggerIP.String() && r.Lost == "" {
				r.Lost = "a passthru: the answer's addresses are let through"
			}
		}
	}
	if found && !best.Allow {
		d.decide(blocklist.TriggerIP, best)
		// ip ranks above nsdname and nsip in its zone: d.bound keeps its list out
	}
	d.servers(a.servers)
}

// servers adds the rpz-nsdname and rpz-nsip rules of the servers given,
// deciding as the policy's serverDecision does (recursive mode only).
func (d *triggerDecider) servers(servers []string) {
	if len(servers) == 0 {
		return
	}
	if d.cfg.Upstream.Mode != "recursive" {
		d.skip = "in forwarding mode the servers a resolution asked are not known: rpz-nsdname and rpz-nsip cannot apply"
	}
	var win blocklist.NetMatch
	var winAt string
	found := false
	limit := d.bound
	if d.skip == "" {
		bound := limit
		for _, s := range servers { // each a server's name or one of its addresses
			host, addrs := "", []netip.Addr(nil)
			if ip, err := netip.ParseAddr(s); err == nil {
				addrs = []netip.Addr{ip.Unmap()}
			} else {
				host, _ = feeds.CanonicalQuery(s)
			}
			name, addr, byName, ok := d.t.ServerRule(host, addrs, bound, d.ten.ListView())
			if !ok {
				continue
			}
			if byName {
				addr = blocklist.NetMatch{Allow: name.Allow, Payload: name.Payload}
			}
			win, winAt, found, bound = addr, s, true, int(addr.Payload.List)
		}
	}
	for _, s := range servers {
		if ip, err := netip.ParseAddr(s); err == nil {
			d.add(blocklist.TriggerNSIP, s, d.rules.MatchingAddr(blocklist.TriggerNSIP, ip), win, found && s == winAt, limit)
			continue
		}
		host, _ := feeds.CanonicalQuery(s)
		d.add(blocklist.TriggerNSDName, host, d.rules.MatchingServer(host), win, found && s == winAt, limit)
	}
	if found {
		kind := blocklist.TriggerNSIP
		if _, err := netip.ParseAddr(winAt); err != nil {
			kind = blocklist.TriggerNSDName
		}
		d.decide(kind, win)
	}
}

// add lists the rules ms of a trigger kind applying to at. When decides
// is set, the first one equal to win decides; rules of lists from limit
// on lose to the decision so far.
func (d *triggerDecider) add(kind blocklist.Trigger, at string, ms []feeds.TriggerMatch, win blocklist.NetMatch, decides bool, limit int) {
	for _, m := range ms {
		r := explainedTrigger{Trigger: kind.String(), Matched: at, List: m.List, Kind: "block", Rule: m.Rule(), Source: m.Source}
		if m.Allow {
			r.Kind = "allow"
		} else {
			r.Action = m.Action.String()
			for _, a := range m.Addrs {
				r.Sinkhole = append(r.Sinkhole, a.String())
			}
		}
		isWin := decides && m.ListIndex == int(win.Payload.List) && m.Allow == win.Allow &&
			(kind == blocklist.TriggerNSDName || m.Prefix == win.Prefix)
		switch {
		case isWin:
			decides = false // one rule decides
		case m.LogOnly:
			r.Lost = fmt.Sprintf("list %q is log-only: it logs what it would block and blocks nothing", m.List)
		case !d.inView(uint16(m.ListIndex)):
			r.Lost = fmt.Sprintf("list %q is not one of %s's lists", m.List, d.who())
		case d.skip != "":
			r.Lost = d.skip
		case m.ListIndex >= limit:
			r.Lost = d.why
		default:
			r.Lost = "a rule of an earlier list, or a longer prefix or name in the same list, decides"
		}
		d.ex.Triggers = append(d.ex.Triggers, r)
	}
}

// decide makes a trigger's block or passthru m the explanation's
// decision: the name's own rule, if any, becomes a lost one.
func (d *triggerDecider) decide(kind blocklist.Trigger, m blocklist.NetMatch) {
	list := d.t.Lists[m.Payload.List].Name
	if m.Allow {
		d.ex.setDecision(kind, "allowed", resolvedAnswer(d.cfg, d.q))
	} else {
		action, addrs := tenantAction(d.t, blocklist.Match{Payload: m.Payload}, d.ten)
		zone := d.q
		if zone == "" {
			zone = "."
		}
		d.ex.setDecision(kind, "blocked", blockedAnswer(action, list, zone, addrs, d.cfg.Blocking.TTL))
	}
	d.bound = int(m.Payload.List)
	d.why = fmt.Sprintf("the %s rule in list %q decides first", kind, list)
}

// setDecision records that a trigger other than the name decides.
func (ex *explanation) setDecision(kind blocklist.Trigger, decision, answer string) {
	if ex.Rule != nil {
		r := *ex.Rule
		r.Lost = fmt.Sprintf("the %s rule decides (zones in list order; within one client-ip, qname, ip, nsdname, nsip)", kind)
		ex.AlsoMatched = append([]explainedRule{r}, ex.AlsoMatched...)
		ex.Rule = nil
	}
	ex.Decision, ex.Answer, ex.DecidedBy = decision, answer, kind.String()
	ex.Note = fmt.Sprintf("decided by an %s rule: see triggers.", kind)
}

func (d *triggerDecider) inView(list uint16) bool {
	v := d.ten.ListView()
	return v == nil || v.Has(list)
}

func (d *triggerDecider) who() string {
	if d.ten == nil {
		return "the default policy"
	}
	return fmt.Sprintf("tenant %q", d.ten.Name)
}

// text renders a trigger rule for the terminal.
func (r *explainedTrigger) text() string {
	s := fmt.Sprintf("%s %s: %s by list %q, rule %q", r.Trigger, r.Matched, ruleVerb(r.Kind, r.Action, r.Sinkhole), r.List, r.Rule)
	if r.Source != "" {
		s += ", " + r.Source
	}
	return s
}
