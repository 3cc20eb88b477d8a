package feeds

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// maxOverlayNames bounds the names an IXFR may change and still be served
// through an overlay; a bigger change waits for the full rebuild, which
// follows every IXFR anyway.
const maxOverlayNames = 4096

// publishDelta serves the changes of an IXFR at once: the names it
// touched get their new rules in an overlay on the table being served
// (blocklist.Set.WithOverlay), without parsing the whole zone or compiling
// the trie again; when it touched a trigger of another kind (rpz-ip,
// rpz-client-ip, rpz-nsip, rpz-nsdname), that zone's trigger tables alone
// are made again from the new zone's trigger lines, which are few beside
// its names (deltaTriggers). The full parse and rebuild that follow fold
// the overlay in. net maps each changed zone line to whether it is in the
// new zone; body is the new zone.
//
// The new state of a touched name is exact: its rules in this zone (the
// zone's lines at the trigger and its "*." form, parsed as the list's
// copy would be) and the rules other lists hold at the same name, in
// config order, as merge orders them — in the set the list belongs to
// (Table.Set, or Table.WhatIf for a log-only list), so feed trust
// (Table.DecideView) decides on the overlay as on the rebuilt table.
func (m *Manager) publishDelta(s *xfrSource, net map[string]bool, body []byte) {
	// A rebuild of another list may publish while the overlay is made:
	// make it again over that table, a bounded number of times.
	for range 3 {
		if !m.publishDeltaOnce(s, net, body) {
			return
		}
	}
}

// maxOverlayTriggers bounds the trigger lines (rpz-ip and the others) a
// zone may hold and still have an IXFR's trigger changes served at once.
const maxOverlayTriggers = 1 << 16

// deltaChange is what one IXFR touched: the query names, and per other
// trigger kind whether any of its rules changed, with the names of the
// rpz-nsdname rules touched.
type deltaChange struct {
	names   map[string]bool
	owners  map[string]bool // the zone owners whose lines hold names' rules
	kinds   [blocklist.TriggerNSIP + 1]bool
	nsNames map[string]bool
}

func (d *deltaChange) triggers() bool {
	return d.kinds[blocklist.TriggerClientIP] || d.kinds[blocklist.TriggerIP] || d.kinds[blocklist.TriggerNSIP] || d.kinds[blocklist.TriggerNSDName]
}

// changeOf sorts the changed lines of zone by what they are rules of.
func changeOf(net map[string]bool, zone string) *deltaChange {
	d := &deltaChange{names: map[string]bool{}, owners: map[string]bool{}, nsNames: map[string]bool{}}
	for line := range net {
		owner, _, _ := strings.Cut(line, "\t")
		trig, ok := strings.CutSuffix(owner, "."+zone)
		if !ok {
			continue // the apex: SOA, NS
		}
		base := strings.TrimPrefix(trig, "*.")
		if kind, rest, ok := specialTrigger(base); ok {
			d.kinds[kind] = true
			if kind == blocklist.TriggerNSDName {
				if name, reason := canonicalName([]byte(rest), true); reason == "" {
					d.nsNames[name] = true
				}
			}
			continue
		}
		name, reason := canonicalName([]byte(base), true)
		if reason != "" {
			continue // the full parse rejects and reports it
		}
		d.names[name] = true
		d.owners[base+"."+zone], d.owners["*."+base+"."+zone] = true, true
	}
	return d
}

// publishDeltaOnce is one try of publishDelta; it reports whether a
// rebuild published meanwhile, so that another try is worth it.
func (m *Manager) publishDeltaOnce(s *xfrSource, net map[string]bool, body []byte) (retry bool) {
	start := time.Now()
	var f *feed
	for _, x := range m.feeds {
		if x.spec.src == Source(s) {
			f = x
		}
	}
	pub, cur := m.tables.Load(), m.rules.Load()
	if f == nil || pub == nil || cur == nil || !slices.Equal(cur.specs, m.specs) {
		return false
	}
	d := changeOf(net, s.zone)
	if len(d.names) == 0 && !d.triggers() || len(d.names) > maxOverlayNames {
		return false
	}
	// The new zone's lines at those owners and, when a trigger of another
	// kind changed, every such trigger's line, after its SOA line.
	var sub bytes.Buffer
	if !zoneLines(&sub, body, d, []byte("."+s.zone)) {
		return false // too many trigger lines: the rebuild serves it
	}
	c, err := parseCopy(context.Background(), f.spec, &sub, s.String(), slog.New(slog.DiscardHandler))
	if err != nil {
		return false
	}
	logOnly := f.spec.info.LogOnly
	// Every rule at those names, list by list, placed as merge places
	// them, from the lists of the set f's list belongs to.
	var rules, nsRules []blocklist.Rule
	// The table's answer data with the new copy's appended (clipped: the
	// published arrays are never written).
	data := blocklist.Table{Addrs: slices.Clip(pub.Addrs), Local: slices.Clip(pub.Local)}
	base := appendData(&data, c)
	off := uint32(0)
	for i, sp := range cur.specs {
		cp, at := cur.copies[i], off
		if cp != nil {
			off += uint32(len(cp.addrs))
		}
		if sp == f.spec {
			cp, at = c, base
		}
		if cp == nil || sp.info.LogOnly != logOnly {
			continue
		}
		fix := func(r blocklist.Rule) blocklist.Rule {
			r.Payload.List = sp.index
			if r.Payload.Data != 0 {
				r.Payload.Data += at
			}
			return r
		}
		cp.rulesAt(sp, d.names, func(r blocklist.Rule) { rules = append(rules, fix(r)) })
		for _, r := range cp.nsnames {
			if d.nsNames[r.Name] {
				r.Payload.Category = sp.category
				nsRules = append(nsRules, fix(r))
			}
		}
	}
	nt := *pub
	nt.Addrs, nt.Local = data.Addrs, data.Local
	overlay := 0
	if len(d.names) > 0 {
		target := &nt.Set
		if logOnly {
			target = &nt.WhatIf
		}
		set, err := (*target).WithOverlay(keysOf(d.names), rules)
		if err != nil {
			m.log.Error("IXFR overlay failed; the full rebuild will serve the change", "feed", s.name, "err", err)
			return false
		}
		*target, overlay = set, set.OverlayLen()
	}
	if d.triggers() {
		if err := deltaTriggers(&nt, f.spec, c, base, d, nsRules); err != nil {
			m.log.Error("IXFR trigger update failed; the full rebuild will serve the change", "feed", s.name, "err", err)
			return false
		}
	}
	if !m.tables.CompareAndSwap(pub, &nt) {
		return true // a rebuild published meanwhile
	}
	if m.onPublish != nil {
		m.onPublish(&nt)
	}
	m.log.Info("IXFR served through an overlay until the rebuild", "feed", s.name, "names", len(d.names),
		"overlay", overlay, "triggers", d.triggers(), "took", time.Since(start).Round(time.Microsecond))
	return false
}

// deltaTriggers gives table t list sp's new address triggers, all of them
// from c (the new zone's trigger lines, its data placed at base), in the
// list's place (blocklist.NetSet.Replace), and the rpz-nsdname rules at
// the names d touched (nsRules: every list's, as merge orders them) in an
// overlay on t.NSDName. Log-only lists have no name-server triggers, as
// merge builds them.
func deltaTriggers(t *blocklist.Table, sp *feedSpec, c *feedCopy, base uint32, d *deltaChange, nsRules []blocklist.Rule) error {
	var nets [blocklist.TriggerNSIP + 1][]blocklist.NetRule
	for _, n := range c.nets {
		r := n.rule
		r.Payload.List, r.Payload.Category = sp.index, sp.category
		if r.Payload.Data != 0 {
			r.Payload.Data += base
		}
		nets[n.kind] = append(nets[n.kind], r)
	}
	replace := func(s **blocklist.NetSet, kind blocklist.Trigger) {
		if d.kinds[kind] {
			*s = (*s).Replace(sp.index, nets[kind])
		}
	}
	if sp.info.LogOnly {
		replace(&t.WhatIfClientIP, blocklist.TriggerClientIP)
		replace(&t.WhatIfIP, blocklist.TriggerIP)
		return nil
	}
	replace(&t.ClientIP, blocklist.TriggerClientIP)
	replace(&t.IP, blocklist.TriggerIP)
	replace(&t.NSIP, blocklist.TriggerNSIP)
	if len(d.nsNames) > 0 {
		s, err := t.NSDName.WithOverlay(keysOf(d.nsNames), nsRules)
		if err != nil {
			return fmt.Errorf("rpz-nsdname overlay: %w", err)
		}
		t.NSDName = s
	}
	return nil
}

// zoneLines writes to sub the first line of body (the SOA), the lines at
// d's owners and, when d changed a trigger of another kind, every line of
// such a trigger (suffix is "." and the zone). It jumps between matches
// with bytes.Index rather than reading each line of a million-rule zone
// when d names few owners; it reports false past maxOverlayTriggers
// trigger lines.
func zoneLines(sub *bytes.Buffer, body []byte, d *deltaChange, suffix []byte) bool {
	line := func(i int) (start, end int) { // the line holding body[i]
		start = bytes.LastIndexByte(body[:i], '\n') + 1
		if end = bytes.IndexByte(body[i:], '\n'); end < 0 {
			return start, len(body)
		}
		return start, i + end + 1
	}
	write := func(l []byte) { // a last line without its newline gets one
		sub.Write(l)
		if len(l) > 0 && l[len(l)-1] != '\n' {
			sub.WriteByte('\n')
		}
	}
	_, soaEnd := line(0)
	write(body[:soaEnd])
	if soaEnd == 0 {
		return true // an empty zone
	}
	switch {
	case len(d.owners) == 0:
	case len(d.owners) <= 16:
		for owner := range d.owners {
			at := []byte("\n" + owner + "\t")
			for off := soaEnd - 1; off < len(body); {
				i := bytes.Index(body[off:], at)
				if i < 0 {
					break
				}
				start, end := line(off + i + 1)
				write(body[start:end])
				off = end - 1
			}
		}
	default:
		for rest := body[soaEnd:]; len(rest) > 0; {
			l := rest
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				l, rest = rest[:j+1], rest[j+1:]
			} else {
				rest = nil
			}
			if owner, _, ok := bytes.Cut(l, []byte("\t")); ok && d.owners[string(owner)] {
				write(l)
			}
		}
	}
	if !d.triggers() {
		return true
	}
	n := 0
	for off := soaEnd; off < len(body); {
		i := bytes.Index(body[off:], []byte(".rpz-"))
		if i < 0 {
			break
		}
		start, end := line(off + i)
		if owner, _, _ := bytes.Cut(body[start:end], []byte("\t")); specialOwner(owner, suffix) {
			if n++; n > maxOverlayTriggers {
				return false
			}
			write(body[start:end])
		}
		off = end
	}
	return true
}

// keysOf returns the names of a set.
func keysOf(names map[string]bool) []string {
	keys := make([]string, 0, len(names))
	for n := range names {
		keys = append(keys, n)
	}
	return keys
}

// specialOwner reports whether a zone line's owner is a trigger of
// another kind than the query name (under rpz-ip, rpz-nsdname, ...);
// suffix is "." and the zone. It allocates nothing: it runs on every line
// of a large zone.
func specialOwner(owner, suffix []byte) bool {
	trig, ok := bytes.CutSuffix(owner, suffix)
	if !ok {
		return false
	}
	switch string(trig[bytes.LastIndexByte(trig, '.')+1:]) {
	case "rpz-client-ip", "rpz-ip", "rpz-nsdname", "rpz-nsip":
		return true
	}
	return false
}

// rulesAt calls fn with c's rules at each of names, with their category
// as merge gives it: from the compiled set (its slots' winners, which
// merge the same) or, for a threat-intelligence copy, its rules.
func (c *feedCopy) rulesAt(sp *feedSpec, names map[string]bool, fn func(blocklist.Rule)) {
	if c.set != nil {
		for n := range names {
			for _, r := range c.set.RulesAt(n) {
				r.Payload.Category = sp.category
				fn(r)
			}
		}
		return
	}
	for j := range c.rules.len() {
		if r := c.rules.at(j); names[r.Name] {
			r.Payload.Category = sp.ruleCategory(c, j)
			fn(r)
		}
	}
}
