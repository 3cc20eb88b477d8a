package feeds

import (
	"context"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
)

// Threat-intelligence formats (STIX 2.1, MISP) differ from plain lists in
// three ways the rest of the package must know about: each rule comes from
// a named object that explain and sightings refer to, its category may come
// from the object's tags, and it may apply only for a while (STIX
// valid_from / valid_until). The parser records this per rule in
// feedCopy.meta; plain formats leave meta nil and pay nothing.
//
// Validity is applied when the merged table is built, never at query time:
// the table holds only the rules live at build time, and the Manager
// rebuilds it when the next rule starts or stops applying
// (watchValidity), so an indicator stops blocking when it expires even if
// its feed is not fetched again, and the query path is unchanged.

// Intel kinds (IntelRef.Kind).
const (
	IntelSTIX = "stix"
	IntelMISP = "misp"
)

// IntelRef names the threat-intelligence object a rule came from.
type IntelRef struct {
	// Kind is IntelSTIX or IntelMISP.
	Kind string
	// ID is the STIX indicator id ("indicator--<uuid>") or the MISP
	// attribute uuid.
	ID string
	// Event is the MISP event uuid ("" for STIX).
	Event string
	// Tags are the object's tags (STIX labels and indicator_types; MISP
	// attribute then event tags), matched against the list's
	// tag_categories in order; not kept after parsing.
	Tags []string
	// NotBefore and NotAfter bound when the rule applies (zero:
	// unbounded). NotAfter is exclusive.
	NotBefore, NotAfter time.Time
}

// String is how explain names the object.
func (r IntelRef) String() string {
	if r.Kind == IntelMISP {
		if r.Event == "" {
			return "MISP attribute " + r.ID
		}
		return "MISP event " + r.Event + " attribute " + r.ID
	}
	return r.ID
}

// liveAt reports whether the rule applies at t.
func (r *IntelRef) liveAt(t time.Time) bool {
	return (r.NotBefore.IsZero() || !t.Before(r.NotBefore)) && (r.NotAfter.IsZero() || t.Before(r.NotAfter))
}

// ruleMeta is one rule's threat-intelligence facts.
type ruleMeta struct {
	ref IntelRef // Tags cleared
	// cat is the rule's category index from tag_categories; 0 when no
	// tag matched: the list's category applies.
	cat    uint16
	hasCat bool
}

// maxTagCategories bounds tag_categories per list, so that the category
// index space (uint16) cannot overflow.
const maxTagCategories = 64

// tagCategoryIndex resolves a list's tag_categories to category indexes.
func tagCategoryIndex(m map[string]string, intern func(string) uint16) map[string]uint16 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]uint16, len(m))
	for _, tag := range sortedKeys(m) { // sorted: category indexes are stable across loads
		out[strings.ToLower(tag)] = intern(m[tag])
	}
	return out
}

// noteIntel records the threat-intelligence facts of the rule just added
// (ref nil: a plain rule), the n-th of the copy. meta stays nil until the
// first such rule.
func (c *feedCopy) noteIntel(sp *feedSpec, ref *IntelRef, n int) {
	if ref == nil {
		if c.meta != nil {
			c.meta = append(c.meta, ruleMeta{})
		}
		return
	}
	if c.meta == nil {
		c.meta = make([]ruleMeta, n-1, n)
	}
	rm := ruleMeta{ref: *ref}
	rm.ref.Tags = nil
	for _, tag := range ref.Tags {
		if ci, ok := sp.tagCats[strings.ToLower(tag)]; ok {
			rm.cat, rm.hasCat = ci, true
			break
		}
	}
	c.meta = append(c.meta, rm)
}

// ruleCategory is the category of rule j of c: its tag's, else the list's.
func (sp *feedSpec) ruleCategory(c *feedCopy, j int) uint16 {
	if j < len(c.meta) && c.meta[j].hasCat {
		return c.meta[j].cat
	}
	return sp.category
}

// liveAt returns c with only the rules that apply at t: c itself when all
// do (always, for plain lists). It is nil-safe.
func (c *feedCopy) liveAt(t time.Time) *feedCopy {
	if c == nil || len(c.meta) == 0 {
		return c
	}
	dead := 0
	for i := range c.meta {
		if !c.meta[i].ref.liveAt(t) {
			dead++
		}
	}
	if dead == 0 {
		return c
	}
	nc := *c
	var b ruleSetBuilder
	nc.lines = make([]uint32, 0, len(c.lines)-dead)
	nc.meta = make([]ruleMeta, 0, len(c.meta)-dead)
	for i := range c.meta {
		if !c.meta[i].ref.liveAt(t) {
			continue
		}
		b.add(c.rules.at(i))
		nc.lines = append(nc.lines, c.lines[i])
		nc.meta = append(nc.meta, c.meta[i])
	}
	nc.rules = b.finish()
	nc.entries = nc.rules.len()
	return &nc
}

// nextChange returns the first instant after t at which a rule of c
// starts or stops applying (zero: none).
func (c *feedCopy) nextChange(t time.Time) time.Time {
	var next time.Time
	consider := func(at time.Time) {
		if !at.IsZero() && at.After(t) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if c == nil {
		return next
	}
	for i := range c.meta {
		consider(c.meta[i].ref.NotBefore)
		consider(c.meta[i].ref.NotAfter)
	}
	return next
}

// validityTick bounds how long watchValidity sleeps before it looks at the
// clock and the copies again (a fake clock moved by a test, a new copy
// with an earlier expiry).
const validityTick = time.Second

// minValidityGap is the least time between two rebuilds caused by
// validity alone, so that indicators expiring one after another cost a
// rebuild every few seconds rather than one per indicator; it grows with
// the build time so that such rebuilds use at most a fifth of a core.
const minValidityGap = time.Second

// watchValidity rebuilds the table whenever a rule of a
// threat-intelligence list starts or stops applying. It runs only when
// such a list is configured.
func (m *Manager) watchValidity(ctx context.Context) {
	intel := false
	for _, sp := range m.specs {
		intel = intel || sp.cfg.Format == FormatSTIX || sp.cfg.Format == FormatMISP
	}
	if !intel {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var (
			seen    uint64 = ^uint64(0)
			seenAt  int64
			next    time.Time
			lastRun time.Time
		)
		for {
			now := m.clock.Now()
			// The next change is the first after the instant the served
			// table chose its live rules at, not after now: a change
			// between that build and this look (the clock moved meanwhile)
			// is due at once rather than skipped until the one after it.
			if v, at := m.version.Load(), m.liveAt.Load(); v != seen || at != seenAt { // copies changed or rebuilt: recompute
				seen, seenAt, next = v, at, time.Time{}
				from := now // no build by this Manager yet (a shared table), or a clock set back: as before
				if built := time.Unix(0, at); at != 0 && built.Before(now) {
					from = built
				}
				for _, f := range m.feeds {
					if n := f.current().nextChange(from); !n.IsZero() && (next.IsZero() || n.Before(next)) {
						next = n
					}
				}
			}
			due := next
			if gap := max(minValidityGap, 5*time.Duration(m.buildTook.Load())); !lastRun.IsZero() && due.Before(lastRun.Add(gap)) {
				due = lastRun.Add(gap)
			}
			if !next.IsZero() && !now.Before(due) {
				lastRun = now
				m.log.Info("feed indicators started or stopped applying; rebuilding the blocklist", "at", next)
				m.version.Add(1) // the live rules changed although no copy did
				select {
				case m.dirty <- struct{}{}:
				default:
				}
				continue
			}
			wait := validityTick
			if !next.IsZero() {
				wait = min(wait, max(due.Sub(now), time.Millisecond))
			}
			if clock.Sleep(ctx, min(wait, m.poll)) != nil {
				return
			}
		}
	}()
}

// matchRules returns the rules of threat-intelligence copy c that apply to
// the canonical name q, with their lines, categories and objects.
func (c *feedCopy) matchRules(sp *feedSpec, q string, categories []string) []RuleMatch {
	var out []RuleMatch
	for j := range c.rules.len() {
		rule := c.rules.at(j)
		if !applies(rule.Name, rule.Scope, q) {
			continue
		}
		m := c.ruleMatch(sp, rule.Name, rule.Scope, rule.Allow, rule.Payload.Action, categories)
		m.Category = ""
		if cat := sp.ruleCategory(c, j); int(cat) < len(categories) {
			m.Category = categories[cat]
		}
		if j < len(c.meta) {
			m.Indicator = c.meta[j].ref.String()
		}
		if j < len(c.lines) {
			m.Line = int(c.lines[j])
		}
		if d := rule.Payload.Data; !rule.Allow && d > 0 && int(d) <= len(c.addrs) {
			m.Addrs = c.addrs[d-1]
		}
		out = append(out, m)
	}
	return out
}
