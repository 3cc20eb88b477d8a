package main

import (
	"fmt"
	"net/netip"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// explainWho is whose policy explain shows: the tenant of a client
// address (-client, ?client=) or a tenant by name (-tenant, ?tenant=);
// neither is the default policy.
// addrs and servers are the answer addresses and the servers (names or
// addresses) the RPZ triggers beyond the name are explained for
// (explaintriggers.go); the client address is the rpz-client-ip one too.
type explainWho struct {
	client, tenant string
	addrs, servers []string
}

// explainAs is explain under the policy of who.
func explainAs(rules *feeds.Rules, reports []feeds.Report, cfg *config.Config, name string, who explainWho) (*explanation, error) {
	if who.client != "" && who.tenant != "" {
		return nil, fmt.Errorf("give -client or -tenant, not both")
	}
	args, err := parseTriggerArgs(who)
	if err != nil {
		return nil, err
	}
	ten, err := who.resolve(cfg, rules.Table(), args.client)
	if err != nil {
		return nil, err
	}
	ex, err := explain(rules, reports, cfg, name, ten)
	if err != nil {
		return nil, err
	}
	ex.addTriggers(rules, cfg, ex.Name, args, ten)
	return ex, nil
}

// resolve finds the tenant, selected as the pipeline selects it (client,
// the parsed -client address, invalid when not given; no DoH or SNI id,
// no ECS); nil without tenants.
func (w explainWho) resolve(cfg *config.Config, t *blocklist.Table, client netip.Addr) (*tenant.Tenant, error) {
	sel, err := newTenants(cfg, t)
	switch {
	case err != nil:
		return nil, err
	case sel == nil && w.tenant != "":
		return nil, fmt.Errorf("tenant %q: no tenants are configured", w.tenant)
	case sel == nil:
		return nil, nil
	case w.tenant != "":
		ten, ok := sel.ByName(w.tenant)
		if !ok {
			return nil, fmt.Errorf("tenant %q is not configured", w.tenant)
		}
		return ten, nil
	case client.IsValid():
		return sel.Select(tenant.Query{Client: client}), nil
	}
	return sel.Default(), nil
}

// matchFor is the policy's decision for ten (pipeline.Policy.decide): its
// view of the lists; nil or a view of every list is Set.Match.
func matchFor(t *blocklist.Table, q string, ten *tenant.Tenant) (blocklist.Match, bool) {
	return t.DecideView(q, ten.ListView()) // as the policy decides (feed trust)
}

// tenantAction is the action and sinkhole addresses of decided for ten:
// its override, and its own block page when the override is sinkhole.
func tenantAction(t *blocklist.Table, decided blocklist.Match, ten *tenant.Tenant) (blocklist.Action, []netip.Addr) {
	return ten.Action(decided.Payload.List, decided.Payload.Action), ten.SinkholeFor(t, decided.Payload)
}

// splitView separates the matching rules of lists in ten's view from the
// others, which apply to other tenants only.
func splitView(matches []feeds.RuleMatch, ten *tenant.Tenant) (in, outside []feeds.RuleMatch) {
	if ten == nil || ten.AllLists() {
		return matches, nil
	}
	for _, m := range matches {
		if ten.View.Has(uint16(m.ListIndex)) {
			in = append(in, m)
		} else {
			outside = append(outside, m)
		}
	}
	return in, outside
}

// addOutside lists the rules of lists the tenant does not use.
func (ex *explanation) addOutside(outside []feeds.RuleMatch) {
	if ex == nil {
		return
	}
	who := "the default policy"
	if ex.Tenant != "" {
		who = fmt.Sprintf("tenant %q", ex.Tenant)
	}
	for _, m := range outside {
		ex.AlsoMatched = append(ex.AlsoMatched, describeRule(m, fmt.Sprintf("list %q is not one of %s's lists", m.List, who)))
	}
}
