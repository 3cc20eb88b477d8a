package feeds

import (
	"bytes"
	"context"
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
// the trie again. The full parse and rebuild that follow fold the
// overlay in. net maps each changed zone line to whether it is in the new
// zone; body is the new zone.
//
// The new state of a touched name is exact: its rules in this zone (the
// zone's lines at the trigger and its "*." form, parsed as the list's
// copy would be) and the rules other lists hold at the same name, in
// config order, as merge orders them.
func (m *Manager) publishDelta(s *xfrSource, net map[string]bool, body []byte) {
	// A rebuild of another list may publish while the overlay is made:
	// make it again over that table, a bounded number of times.
	for range 3 {
		if !m.publishDeltaOnce(s, net, body) {
			return
		}
	}
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
	// The trigger names the changed lines are at, and their owners.
	names := map[string]bool{}
	owners := map[string]bool{}
	for line := range net {
		owner, _, _ := strings.Cut(line, "\t")
		trig, ok := strings.CutSuffix(owner, "."+s.zone)
		if !ok {
			continue // the apex: SOA, NS
		}
		base := strings.TrimPrefix(trig, "*.")
		if rpzSpecial(base) {
			continue // IP and NS triggers are not name rules
		}
		name, reason := canonicalName([]byte(base), true)
		if reason != "" {
			continue // the full parse rejects and reports it
		}
		names[name] = true
		owners[base+"."+s.zone], owners["*."+base+"."+s.zone] = true, true
	}
	if len(names) == 0 || len(names) > maxOverlayNames {
		return false
	}
	// The new zone's lines at those owners, after its SOA line.
	var sub bytes.Buffer
	rest := body
	for i := 0; len(rest) > 0; i++ {
		line := rest
		if j := bytes.IndexByte(rest, '\n'); j >= 0 {
			line, rest = rest[:j+1], rest[j+1:]
		} else {
			rest = nil
		}
		if owner, _, _ := bytes.Cut(line, []byte("\t")); i == 0 || owners[string(owner)] {
			sub.Write(line)
		}
	}
	c, err := parseCopy(context.Background(), f.spec, &sub, s.String(), slog.New(slog.DiscardHandler))
	if err != nil {
		return false
	}
	// Every rule at those names, list by list, placed as merge places them.
	var rules []blocklist.Rule
	// The table's answer data with the new copy's appended (clipped: the
	// published arrays are never written).
	data := blocklist.Table{Addrs: slices.Clip(pub.Addrs), Local: slices.Clip(pub.Local)}
	off := uint32(0)
	for i, sp := range cur.specs {
		cp := cur.copies[i]
		if sp == f.spec {
			cp = c
		}
		if cp == nil {
			continue
		}
		base := off
		if sp == f.spec {
			base = appendData(&data, c)
		}
		if cur.copies[i] != nil {
			off += uint32(len(cur.copies[i].addrs))
		}
		cp.rulesAt(sp, names, func(r blocklist.Rule) {
			r.Payload.List = sp.index
			if r.Payload.Data != 0 {
				r.Payload.Data += base
			}
			rules = append(rules, r)
		})
	}
	keys := make([]string, 0, len(names))
	for n := range names {
		keys = append(keys, n)
	}
	set, err := pub.Set.WithOverlay(keys, rules)
	if err != nil {
		m.log.Error("IXFR overlay failed; the full rebuild will serve the change", "feed", s.name, "err", err)
		return false
	}
	nt := *pub
	nt.Set, nt.Addrs, nt.Local = set, data.Addrs, data.Local
	if !m.tables.CompareAndSwap(pub, &nt) {
		return true // a rebuild published meanwhile
	}
	if m.onPublish != nil {
		m.onPublish(&nt)
	}
	m.log.Info("IXFR served through an overlay until the rebuild", "feed", s.name, "names", len(names),
		"overlay", set.OverlayLen(), "took", time.Since(start).Round(time.Microsecond))
	return false
}

// rpzSpecial reports whether a trigger is an IP or name-server trigger.
func rpzSpecial(trigger string) bool {
	last := trigger[strings.LastIndexByte(trigger, '.')+1:]
	switch last {
	case "rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip":
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
