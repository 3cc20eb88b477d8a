package feeds

import (
	"fmt"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// merge builds one Table from each list's copy, in config order, so the
// first list decides ties (docs/ARCHITECTURE.md). A nil copy (a list not loaded yet)
// contributes no rules. Rules the builder refuses (parsers emit canonical
// names, so this means a bug) are dropped and counted rather than failing
// the whole table.
func merge(specs []*feedSpec, copies []*feedCopy, categories []string) (t *blocklist.Table, dropped int, err error) {
	b := blocklist.NewBuilder()
	n := 0
	for _, c := range copies {
		if c != nil {
			n += c.rules.len()
		}
	}
	b.Grow(n)                     // one allocation of each array rather than doubling through a million rules
	var whatIf *blocklist.Builder // log-only lists' rules (policy.go)
	t = &blocklist.Table{Lists: make([]blocklist.ListInfo, 0, len(specs)), Categories: categories}
	var triggers, whatIfTriggers tableTriggers // rpz-client-ip, rpz-ip, ... (triggers.go)
	for i, sp := range specs {
		info := sp.info
		if c := copies[i]; c != nil {
			off := appendData(t, c)
			if sp.info.LogOnly {
				whatIfTriggers.add(c, sp.index, sp.category, off)
			} else {
				triggers.add(c, sp.index, sp.category, off)
			}
			for j := range c.rules.len() {
				r := c.rules.at(j)
				// A copy may be older than this config (a reload kept
				// it while lists were added before it): its place in
				// the index space is the spec's, not the copy's.
				r.Payload.List, r.Payload.Category = sp.index, sp.ruleCategory(c, j)
				if r.Payload.Data != 0 {
					r.Payload.Data += off
				}
				to := b
				if sp.info.LogOnly {
					if whatIf == nil {
						whatIf = blocklist.NewBuilder()
					}
					to = whatIf
				}
				if to.Add(r) != nil {
					dropped++
				}
			}
			info.Entries = c.rules.len() + c.triggerCount()
			info.RPZ = c.report.Format == FormatRPZ
		}
		t.Lists = append(t.Lists, info)
	}
	set, err := b.Build()
	if err != nil {
		return nil, dropped, fmt.Errorf("building the merged blocklist: %w", err)
	}
	t.Set = set
	if err := triggers.build(t); err != nil {
		return nil, dropped, err
	}
	t.WhatIfClientIP = blocklist.NewNetSet(whatIfTriggers.nets[blocklist.TriggerClientIP])
	t.WhatIfIP = blocklist.NewNetSet(whatIfTriggers.nets[blocklist.TriggerIP])
	if whatIf != nil {
		if t.WhatIf, err = whatIf.Build(); err != nil {
			return nil, dropped, fmt.Errorf("building the log-only lists: %w", err)
		}
	}
	return t, dropped, nil
}
