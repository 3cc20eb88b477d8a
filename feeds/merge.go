package feeds

import (
	"fmt"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// merge builds one Table from each list's copy, in config order, so the
// first list decides ties (docs/ARCHITECTURE.md). A nil copy (a list not
// loaded yet) contributes no rules. A plain copy is already compiled:
// merging adds the compiled sets in order, which decides every name as
// adding all their rules in order would (blocklist.Builder.AddSet). When
// one such copy is all there is and it was compiled for its place in this
// config, its set is the table's set as it is: no second trie in memory,
// no build time. A threat-intelligence copy adds its rules (intel.go).
// Log-only lists go to the table's WhatIf set instead (policy.go). Rules
// the builder refuses (parsers emit canonical names, so this means a bug)
// are dropped and counted rather than failing the whole table.
func merge(specs []*feedSpec, copies []*feedCopy, categories []string) (t *blocklist.Table, dropped int, err error) {
	t = &blocklist.Table{Lists: make([]blocklist.ListInfo, 0, len(specs)), Categories: categories}
	only := soleSet(specs, copies)
	var b, whatIf *blocklist.Builder // whatIf: log-only lists' rules
	if only == nil {
		b = blocklist.NewBuilder()
		b.Grow(mergedEntries(copies)) // one allocation of each array rather than doubling through a million rules
	}
	var triggers, whatIfTriggers tableTriggers // rpz-client-ip, rpz-ip, ... (triggers.go)
	for i, sp := range specs {
		info := sp.info
		if c := copies[i]; c != nil {
			off := appendData(t, c)
			to := b
			if sp.info.LogOnly {
				if whatIf == nil {
					whatIf = blocklist.NewBuilder()
				}
				to = whatIf
				whatIfTriggers.add(c, sp.index, sp.category, off)
			} else {
				triggers.add(c, sp.index, sp.category, off)
			}
			if to != nil {
				n, err := addCopy(to, sp, c, off)
				if err != nil {
					return nil, dropped, err
				}
				dropped += n
			}
			info.Entries = c.entries
			info.RPZ = c.report.Format == FormatRPZ
		}
		t.Lists = append(t.Lists, info)
	}
	if only != nil {
		t.Set = only.set
	} else if t.Set, err = b.Finish(); err != nil {
		return nil, dropped, fmt.Errorf("building the merged blocklist: %w", err)
	}
	if err := triggers.build(t); err != nil {
		return nil, dropped, err
	}
	t.WhatIfClientIP = blocklist.NewNetSet(whatIfTriggers.nets[blocklist.TriggerClientIP])
	t.WhatIfIP = blocklist.NewNetSet(whatIfTriggers.nets[blocklist.TriggerIP])
	if whatIf != nil {
		if t.WhatIf, err = whatIf.Finish(); err != nil {
			return nil, dropped, fmt.Errorf("building the log-only lists: %w", err)
		}
	}
	return t, dropped, nil
}

// soleSet returns the one copy whose compiled set can be the table's set
// as it is: the only copy there is, a plain one, compiled for its place
// in this config, and not log-only. nil otherwise.
func soleSet(specs []*feedSpec, copies []*feedCopy) *feedCopy {
	var only *feedCopy
	for i, c := range copies {
		if c == nil {
			continue
		}
		if only != nil {
			return nil
		}
		sp := specs[i]
		if c.set == nil || sp.info.LogOnly || c.list != sp.index || c.category != sp.category {
			return nil
		}
		only = c
	}
	return only
}

// mergedEntries is the rule count of the copies, the size a merge reserves.
func mergedEntries(copies []*feedCopy) int {
	n := 0
	for _, c := range copies {
		if c != nil {
			n += c.entries
		}
	}
	return n
}

// addCopy adds copy c of sp's list to b at its place in the index space,
// with its RPZ address sets at off of the table's; it returns how many
// rules b refused.
func addCopy(b *blocklist.Builder, sp *feedSpec, c *feedCopy, off uint32) (dropped int, err error) {
	// A copy may be older than this config (a reload kept it while lists
	// were added before it): its place in the index space is the spec's,
	// not the copy's.
	if c.set != nil {
		return 0, b.AddSet(c.set, func(p blocklist.Payload) blocklist.Payload {
			p.List, p.Category = sp.index, sp.category
			if p.Data != 0 {
				p.Data += off
			}
			return p
		})
	}
	for j := range c.rules.len() {
		r := c.rules.at(j)
		r.Payload.List, r.Payload.Category = sp.index, sp.ruleCategory(c, j)
		if r.Payload.Data != 0 {
			r.Payload.Data += off
		}
		if b.Add(r) != nil {
			dropped++
		}
	}
	return dropped, nil
}
