package feeds

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// netTrigger is one address trigger of a copy (rpz-client-ip, rpz-ip,
// rpz-nsip): few beside the names, kept as they are.
type netTrigger struct {
	kind blocklist.Trigger
	rule blocklist.NetRule
}

// addData gives a block rule its own answer data: the addresses of a
// sinkhole rule, or the records of a local-data rule (with their
// addresses), deduplicated within the copy through index. It returns
// the rule's Payload.Data (0: none).
func (c *feedCopy) addData(e *Entry, action blocklist.Action, index map[string]uint32) uint32 {
	local := e.Local
	switch {
	case action == blocklist.ActionSinkhole && len(e.Addrs) > 0:
		local = nil
	case action == blocklist.ActionLocal && len(local) > 0:
	default:
		return 0
	}
	key := fmt.Sprint(e.Addrs, local)
	if d, ok := index[key]; ok {
		return d
	}
	if len(local) > 0 {
		c.local = padLocal(c.local, len(c.addrs))
		c.local = append(c.local, local)
	}
	c.addrs = append(c.addrs, e.Addrs)
	d := uint32(len(c.addrs))
	index[key] = d
	return d
}

// padLocal extends local to n entries, so that it stays parallel to the
// addresses it shares an index space with.
func padLocal(local [][]blocklist.LocalRR, n int) [][]blocklist.LocalRR {
	if len(local) < n {
		local = append(local, make([][]blocklist.LocalRR, n-len(local))...)
	}
	return local
}

// addTrigger files a rule of a trigger kind other than the query name.
func (c *feedCopy) addTrigger(e Entry, allow bool, p blocklist.Payload) {
	if e.Trigger == blocklist.TriggerNSDName {
		c.nsnames = append(c.nsnames, blocklist.Rule{Name: e.Name, Scope: e.Scope, Allow: allow, Payload: p})
		return
	}
	c.nets = append(c.nets, netTrigger{kind: e.Trigger, rule: blocklist.NetRule{Prefix: e.Prefix, Allow: allow, Payload: p}})
}

// triggerKinds counts the copy's triggers by kind (Report.Triggers).
func (c *feedCopy) triggerKinds() map[string]int {
	if c.triggerCount() == 0 {
		return nil
	}
	n := map[string]int{}
	for _, t := range c.nets {
		n[t.kind.String()]++
	}
	if len(c.nsnames) > 0 {
		n[blocklist.TriggerNSDName.String()] = len(c.nsnames)
	}
	return n
}

// triggerCount is the number of rules of the other trigger kinds.
func (c *feedCopy) triggerCount() int { return len(c.nets) + len(c.nsnames) }

// tableTriggers gathers every list's triggers other than the query name
// while merge builds a table.
type tableTriggers struct {
	nets    [blocklist.TriggerNSIP + 1][]blocklist.NetRule
	nsnames *blocklist.Builder
}

// add takes copy c's triggers for list index list, whose data was placed
// at off in the table's index space.
func (tt *tableTriggers) add(c *feedCopy, list, category uint16, off uint32) {
	fix := func(p blocklist.Payload) blocklist.Payload {
		p.List, p.Category = list, category
		if p.Data != 0 {
			p.Data += off
		}
		return p
	}
	for _, n := range c.nets {
		r := n.rule
		r.Payload = fix(r.Payload)
		tt.nets[n.kind] = append(tt.nets[n.kind], r)
	}
	for _, r := range c.nsnames {
		if tt.nsnames == nil {
			tt.nsnames = blocklist.NewBuilder()
		}
		r.Payload = fix(r.Payload)
		_ = tt.nsnames.Add(r) // canonical names from the parser
	}
}

// appendData places copy c's answer data in t's index space and returns
// the offset its rules' Payload.Data move by.
func appendData(t *blocklist.Table, c *feedCopy) uint32 {
	off := uint32(len(t.Addrs))
	if c.local != nil || t.Local != nil {
		t.Local = append(padLocal(t.Local, int(off)), padLocal(slices.Clip(c.local), len(c.addrs))...)
	}
	t.Addrs = append(t.Addrs, c.addrs...)
	return off
}

// build sets t's trigger sets.
func (tt *tableTriggers) build(t *blocklist.Table) error {
	t.ClientIP = blocklist.NewNetSet(tt.nets[blocklist.TriggerClientIP])
	t.IP = blocklist.NewNetSet(tt.nets[blocklist.TriggerIP])
	t.NSIP = blocklist.NewNetSet(tt.nets[blocklist.TriggerNSIP])
	if tt.nsnames != nil {
		s, err := tt.nsnames.Finish()
		if err != nil {
			return fmt.Errorf("building the rpz-nsdname rules: %w", err)
		}
		t.NSDName = s
	}
	return nil
}

// TriggerMatch is one rule of a trigger kind other than the query name
// (rpz-client-ip, rpz-ip, rpz-nsdname, rpz-nsip) that applies to an
// address or a server name, for `bulwark explain`.
type TriggerMatch struct {
	Trigger blocklist.Trigger
	// List is the list's name and ListIndex its Payload.List; LogOnly
	// says the list only logs what it would block.
	List      string
	ListIndex int
	LogOnly   bool
	Allow     bool
	// Prefix is an address rule's network; Name and Scope an rpz-nsdname
	// rule's server name.
	Prefix netip.Prefix
	Name   string
	Scope  blocklist.Scope
	// Action and Addrs are a block rule's answer (Addrs: a sinkhole's).
	Action blocklist.Action
	Addrs  []netip.Addr
	Source string
}

// Rule renders the rule: the network, or the server name as lists write
// it ("*.name" for a rule below it).
func (m TriggerMatch) Rule() string {
	if m.Trigger != blocklist.TriggerNSDName {
		return m.Prefix.String()
	}
	return RuleMatch{Name: m.Name, Scope: m.Scope}.Text()
}

// MatchingAddr returns every list's rules of trigger kind (an address
// trigger) whose network holds a, in list order and, within a list, the
// longest prefix first: the order in which they decide.
func (r *Rules) MatchingAddr(kind blocklist.Trigger, a netip.Addr) []TriggerMatch {
	a = a.Unmap()
	var out []TriggerMatch
	r.eachTrigger(func(sp *feedSpec, c *feedCopy) {
		start := len(out)
		for _, n := range c.nets {
			if n.kind == kind && n.rule.Prefix.Contains(a) {
				out = append(out, c.triggerMatch(sp, kind, n.rule.Allow, n.rule.Payload, func(m *TriggerMatch) { m.Prefix = n.rule.Prefix.Masked() }))
			}
		}
		mine := out[start:]
		sort.SliceStable(mine, func(i, j int) bool {
			if mine[i].Prefix.Bits() != mine[j].Prefix.Bits() {
				return mine[i].Prefix.Bits() > mine[j].Prefix.Bits()
			}
			return mine[i].Allow && !mine[j].Allow
		})
	})
	return out
}

// MatchingServer returns every list's rpz-nsdname rules that apply to the
// server name host (canonical), in list order and, within a list, the
// longest name first.
func (r *Rules) MatchingServer(host string) []TriggerMatch {
	var out []TriggerMatch
	r.eachTrigger(func(sp *feedSpec, c *feedCopy) {
		start := len(out)
		for _, n := range c.nsnames {
			if applies(n.Name, n.Scope, host) {
				out = append(out, c.triggerMatch(sp, blocklist.TriggerNSDName, n.Allow, n.Payload, func(m *TriggerMatch) { m.Name, m.Scope = n.Name, n.Scope }))
			}
		}
		mine := out[start:]
		sort.SliceStable(mine, func(i, j int) bool {
			return ranksBefore(&RuleMatch{Name: mine[i].Name, Scope: mine[i].Scope, Allow: mine[i].Allow},
				&RuleMatch{Name: mine[j].Name, Scope: mine[j].Scope, Allow: mine[j].Allow}, host)
		})
	})
	return out
}

// eachTrigger calls fn with every list that has a copy, in list order.
func (r *Rules) eachTrigger(fn func(*feedSpec, *feedCopy)) {
	for i, c := range r.copies {
		if c != nil && c.triggerCount() > 0 {
			fn(r.specs[i], c)
		}
	}
}

// triggerMatch fills what a TriggerMatch says about one trigger rule of c.
func (c *feedCopy) triggerMatch(sp *feedSpec, kind blocklist.Trigger, allow bool, p blocklist.Payload, set func(*TriggerMatch)) TriggerMatch {
	m := TriggerMatch{Trigger: kind, List: sp.info.Name, ListIndex: int(sp.index), LogOnly: sp.info.LogOnly, Allow: allow, Source: c.report.Source}
	set(&m)
	if !allow {
		m.Action = p.Action
		switch {
		case p.Data > 0 && int(p.Data) <= len(c.addrs):
			m.Addrs = c.addrs[p.Data-1]
		case m.Action == blocklist.ActionSinkhole:
			m.Addrs = sp.info.Sinkhole
		}
	}
	return m
}
