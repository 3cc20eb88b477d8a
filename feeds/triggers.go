package feeds

import (
	"fmt"
	"slices"

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
func (c *feedCopy) addData(e Entry, action blocklist.Action, index map[string]uint32) uint32 {
	switch {
	case action == blocklist.ActionSinkhole && len(e.Addrs) > 0:
		e.Local = nil
	case action == blocklist.ActionLocal && len(e.Local) > 0:
	default:
		return 0
	}
	key := fmt.Sprint(e.Addrs, e.Local)
	if d, ok := index[key]; ok {
		return d
	}
	if len(e.Local) > 0 {
		c.local = padLocal(c.local, len(c.addrs))
		c.local = append(c.local, e.Local)
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
