package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/resolver/config"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// explainCmd says how a name would be answered and why: the deciding rule
// with its list and line, and the other rules that matched but lost. It
// reads the lists as `check` does (HTTP lists from feeds.cache_dir).
func explainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	var who explainWho
	f, fs, err := parseFlags("explain", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON, as GET /explain does")
		fs.StringVar(&who.client, "client", "", "explain for the tenant of this client address")
		fs.StringVar(&who.tenant, "tenant", "", "explain for the tenant of this name")
		fs.Func("addr", "an answer address, for the rpz-ip rules (repeatable; explain does not resolve)", func(v string) error {
			who.addrs = append(who.addrs, v)
			return nil
		})
		fs.Func("ns", "an authoritative server's name or address, for the rpz-nsdname and rpz-nsip rules (repeatable)", func(v string) error {
			who.servers = append(who.servers, v)
			return nil
		})
	})
	if err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "bulwark explain: give exactly one NAME")
		return 2
	}
	src, err := loadConfig(f.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rules, reports, err := src.loadLists(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ex, err := explainAs(rules, reports, src.cfg, fs.Arg(0), who)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark explain:", err)
		return 2
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(ex)
		return 0
	}
	fmt.Fprint(stdout, ex.text())
	return 0
}

// handleExplain is GET /explain?name=NAME on the admin address: the same
// explanation for the lists being served, as JSON, or as text with
// ?format=text or "Accept: text/plain".
func (d *daemon) handleExplain(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "missing ?name=NAME", http.StatusBadRequest)
		return
	}
	g := d.cur.Load()
	if g == nil {
		http.Error(w, "starting: no lists are served yet", http.StatusServiceUnavailable)
		return
	}
	rules := g.lists.Rules()
	if rules == nil {
		http.Error(w, "starting: no lists are served yet", http.StatusServiceUnavailable)
		return
	}
	ex, err := explainAs(rules, g.lists.Reports(), g.cfg, name,
		explainWho{client: r.URL.Query().Get("client"), tenant: r.URL.Query().Get("tenant"),
			addrs: r.URL.Query()["addr"], servers: r.URL.Query()["ns"]})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "text" || format == "" && wantsText(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, ex.text())
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

// wantsText reports whether an Accept header prefers text/plain to JSON.
func wantsText(accept string) bool {
	return strings.Contains(accept, "text/plain") && !strings.Contains(accept, "application/json")
}

// explanation is how a name would be answered, and why.
type explanation struct {
	// Name is the name as lists match it (lower case, A-labels).
	Name string `json:"name"`
	// Tenant is the tenant whose policy is explained; absent for the
	// default policy.
	Tenant string `json:"tenant,omitempty"`
	// Decision is "blocked", "allowed" (an allow rule decides) or
	// "no rule" (no rule applies).
	Decision string `json:"decision"`
	// Answer is what a client gets.
	Answer string `json:"answer"`
	// Rule is the deciding rule; AlsoMatched every other rule that
	// applies, from every list (duplicates the merged set dropped
	// included), in the order they rank.
	Rule        *explainedRule  `json:"rule,omitempty"`
	AlsoMatched []explainedRule `json:"also_matched"`
	// DecidedBy names the trigger that decides when it is not the name
	// (rpz-client-ip, rpz-ip, rpz-nsdname, rpz-nsip); Triggers are the
	// rules of those triggers that apply to the client, answer addresses
	// and servers explain was given (explaintriggers.go).
	DecidedBy string             `json:"decided_by,omitempty"`
	Triggers  []explainedTrigger `json:"triggers,omitempty"`
	// NotLoaded names the lists that have no copy, whose rules could not
	// be considered.
	NotLoaded []string `json:"not_loaded,omitempty"`
	Note      string   `json:"note"`
}

// explainedRule is one rule of one list that applies to the name.
type explainedRule struct {
	List     string   `json:"list"`
	Kind     string   `json:"kind"` // block or allow
	Category string   `json:"category,omitempty"`
	Rule     string   `json:"rule"`  // as lists write it: "evil.example", "*.evil.example"
	Scope    string   `json:"scope"` // subtree, exact or below
	Action   string   `json:"action,omitempty"`
	Sinkhole []string `json:"sinkhole,omitempty"`
	Source   string   `json:"source,omitempty"`
	Line     int      `json:"line,omitempty"`
	// Indicator is the threat-intelligence object behind the rule (STIX
	// indicator id, MISP event and attribute).
	Indicator string `json:"indicator,omitempty"`
	// Lost says why the rule does not decide (also_matched only).
	Lost string `json:"lost,omitempty"`
}

// explain explains name against rules (the copies behind a table) under
// cfg. reports say which lists have no copy. The decision is the merged
// set's own (what the policy does); the per-list rules add lines and the
// rules the set dropped as duplicates.
func explain(rules *feeds.Rules, reports []feeds.Report, cfg *config.Config, name string, ten *tenant.Tenant) (ex *explanation, err error) {
	q, err := feeds.CanonicalQuery(name)
	if err != nil {
		return nil, err
	}
	t := rules.Table()
	ex = &explanation{Name: q, Tenant: contract.TenantName(ten), AlsoMatched: []explainedRule{}}
	if q == "" {
		ex.Name = "."
	}
	for _, r := range reports {
		if r.Format == "" {
			ex.NotLoaded = append(ex.NotLoaded, fmt.Sprintf("%s (%s)", r.List, r.LastError))
		}
	}
	matches, outside := splitView(rules.Matching(q), ten) // explaintenant.go
	defer func() { ex.addOutside(outside) }()
	decided, ok := matchFor(t, q, ten)
	if !ok {
		ex.Decision = "no rule"
		ex.Answer = resolvedAnswer(cfg, q)
		ex.Note = cnameNote
		for _, m := range matches { // none, unless the set refused a rule
			ex.AlsoMatched = append(ex.AlsoMatched, describeRule(m, "not in the merged set"))
		}
		return ex, nil
	}
	// The per-list rule that is the set's decision goes first.
	win := -1
	for i, m := range matches {
		if int(decided.Payload.List) == m.ListIndex && decided.Allow == m.Allow && decided.Scope == m.Scope &&
			decided.RuleName(q) == ruleName(m.Name) && (m.Allow || m.Action == decided.Payload.Action) {
			win = i
			break
		}
	}
	var winner feeds.RuleMatch
	if win >= 0 {
		winner = matches[win]
		matches = append(matches[:win:win], matches[win+1:]...)
	} else { // not expected: the set and the copies disagree; trust the set
		winner = ruleFromSet(t, decided, q)
	}
	w := describeRule(winner, "")
	ex.Rule = &w
	for _, m := range matches {
		ex.AlsoMatched = append(ex.AlsoMatched, describeRule(m, whyLost(winner, m, q)))
	}
	if decided.Allow {
		ex.Decision = "allowed"
		ex.Answer = resolvedAnswer(cfg, q)
		ex.Note = cnameNote
		return ex, nil
	}
	ex.Decision = "blocked"
	action, addrs := tenantAction(t, decided, ten)
	ex.Answer = blockedAnswer(action, winner.List, ruleName(winner.Name), addrs, cfg.Blocking.TTL)
	ex.Note = "The name itself is blocked, so it is never resolved and no CNAME is followed."
	return ex, nil
}

// cnameNote says what explain cannot show.
const cnameNote = "explain checks the name only. When the name is resolved, every CNAME and DNAME target " +
	"in the answer is checked against the lists too (CNAME cloaking), and a blocked target blocks the answer; " +
	"that depends on the upstream's answer, which explain does not ask for."

// ruleName renders a canonical rule name ("" is the root) as RuleName does.
func ruleName(n string) string {
	if n == "" {
		return "."
	}
	return n
}

func ruleFromSet(t *blocklist.Table, m blocklist.Match, q string) feeds.RuleMatch {
	r := feeds.RuleMatch{ListIndex: int(m.Payload.List), Allow: m.Allow, Scope: m.Scope, Action: m.Payload.Action,
		Addrs: t.SinkholeAddrs(m.Payload)}
	if n := m.RuleName(q); n != "." {
		r.Name = n
	}
	if int(m.Payload.List) < len(t.Lists) {
		l := t.Lists[m.Payload.List]
		r.List, r.AllowList, r.Source = l.Name, l.Allow, l.Source
	}
	if int(m.Payload.Category) < len(t.Categories) {
		r.Category = t.Categories[m.Payload.Category]
	}
	return r
}

func describeRule(m feeds.RuleMatch, lost string) explainedRule {
	r := explainedRule{List: m.List, Kind: "block", Category: m.Category, Rule: m.Text(), Scope: m.Scope.String(),
		Source: m.Source, Line: m.Line, Indicator: m.Indicator, Lost: lost}
	if m.Allow {
		r.Kind = "allow"
		return r
	}
	r.Action = m.Action.String()
	if m.Action == blocklist.ActionSinkhole {
		for _, a := range m.Addrs {
			r.Sinkhole = append(r.Sinkhole, a.String())
		}
	}
	return r
}

// whyLost says why m does not decide q when win does (feeds.Matching's
// ranking).
func whyLost(win, m feeds.RuleMatch, q string) string {
	switch {
	case m.Allow && !win.Allow && m.List != win.List && len(m.Name) >= len(win.Name):
		return fmt.Sprintf("an exception inside list %q lifts only that list's blocks (feed trust; RPZ zones: later zones only)", m.List)
	case len(win.Name) > len(m.Name):
		return fmt.Sprintf("less specific: %q is longer", win.Text())
	case win.Name == q && win.Scope == blocklist.Exact && m.Scope != blocklist.Exact:
		return "at the same name an exact rule beats a subtree rule"
	case win.Allow && !m.Allow:
		return "at the same name an allow beats a block"
	case win.List == m.List:
		return "the same rule, written earlier in the list, decides"
	}
	return fmt.Sprintf("the same rule in list %q, earlier in the config, decides", win.List)
}

// blockedAnswer describes the block answer (dnswire.AppendBlock) of
// action; zone is the blocked name, owner of the SOA of negative answers.
func blockedAnswer(action blocklist.Action, list, zone string, addrs []netip.Addr, ttl time.Duration) string {
	ede := fmt.Sprintf(`, and EDE 15 "blocked by list %s" to clients that send EDNS`, list)
	ttlText := fmt.Sprintf("%ds", int64(ttl/time.Second))
	soa := fmt.Sprintf("an SOA for %s in the authority section (TTL %s)", zone, ttlText)
	switch action {
	case blocklist.ActionNXDomain:
		return "NXDOMAIN, " + soa + ede
	case blocklist.ActionNoData:
		return "NOERROR with no records (NODATA), " + soa + ede
	case blocklist.ActionNull:
		return fmt.Sprintf("0.0.0.0 to A queries and :: to AAAA queries (TTL %s), NODATA with %s to other types%s", ttlText, soa, ede)
	case blocklist.ActionSinkhole:
		var v4, v6 []string
		for _, a := range addrs {
			if a.Unmap().Is4() {
				v4 = append(v4, a.Unmap().String())
			} else {
				v6 = append(v6, a.String())
			}
		}
		parts := []string{}
		if len(v4) > 0 {
			parts = append(parts, "A "+strings.Join(v4, ", "))
		}
		if len(v6) > 0 {
			parts = append(parts, "AAAA "+strings.Join(v6, ", "))
		}
		return fmt.Sprintf("the sinkhole addresses (%s; TTL %s), NODATA with %s to other types%s", strings.Join(parts, "; "), ttlText, soa, ede)
	case blocklist.ActionRefused:
		return "REFUSED" + ede
	case blocklist.ActionDrop:
		return "no answer at all: the query is dropped and the client times out"
	case blocklist.ActionTCPOnly:
		return "over UDP an empty answer with TC=1, so that the client retries over TCP; over TCP, DoT and DoH the name is resolved as if unlisted"
	case blocklist.ActionLocal:
		return fmt.Sprintf("the rule's local data (RPZ): a CNAME rewrite resolved and answered with its chain, or its records of the asked type (TTL %s), NODATA otherwise", ttlText)
	}
	return "NXDOMAIN, " + soa + ede
}

// resolvedAnswer says where a name no rule blocks is resolved.
func resolvedAnswer(cfg *config.Config, q string) string {
	best := ""
	var servers []string
	for _, c := range cfg.Upstream.Conditional {
		for _, d := range c.Domains {
			d, err := feeds.CanonicalQuery(d)
			if err != nil {
				continue
			}
			if (q == d || d == "" || strings.HasSuffix(q, "."+d)) && len(d) >= len(best) {
				best, servers = d, c.Servers
			}
		}
	}
	switch {
	case servers != nil:
		return fmt.Sprintf("resolved normally: forwarded to %s (upstream.conditional for %s), through the cache", strings.Join(servers, ", "), ruleName(best))
	case cfg.Upstream.Mode == "recursive":
		return "resolved normally: resolved from the root servers (upstream.mode: recursive), through the cache"
	}
	return fmt.Sprintf("resolved normally: forwarded to the upstreams (%s), through the cache", strings.Join(cfg.Upstream.Servers, ", "))
}

// text renders the explanation for a terminal.
func (ex *explanation) text() string {
	var b strings.Builder
	switch ex.Decision {
	case "no rule":
		fmt.Fprintf(&b, "%s: resolved normally (no rule matches)\n", ex.Name)
	case "allowed":
		fmt.Fprintf(&b, "%s: resolved normally (an allow rule decides)\n", ex.Name)
	default:
		fmt.Fprintf(&b, "%s: blocked\n", ex.Name)
	}
	if ex.DecidedBy != "" {
		fmt.Fprintf(&b, "  decided by the %s trigger\n", ex.DecidedBy)
	}
	if ex.Tenant != "" {
		fmt.Fprintf(&b, "  policy: tenant %q\n", ex.Tenant)
	}
	fmt.Fprintf(&b, "  answer: %s\n", ex.Answer)
	if ex.Rule != nil {
		fmt.Fprintf(&b, "  decided by: %s\n", ex.Rule.text())
	}
	for _, r := range ex.AlsoMatched {
		fmt.Fprintf(&b, "  also matched, lost: %s (%s)\n", r.text(), r.Lost)
	}
	for _, r := range ex.Triggers {
		if r.Lost == "" {
			fmt.Fprintf(&b, "  decided by: %s\n", r.text())
		} else {
			fmt.Fprintf(&b, "  trigger, lost: %s (%s)\n", r.text(), r.Lost)
		}
	}
	for _, l := range ex.NotLoaded {
		fmt.Fprintf(&b, "  not considered: list %s has no copy\n", l)
	}
	fmt.Fprintf(&b, "  note: %s\n", ex.Note)
	return b.String()
}

func (r *explainedRule) text() string {
	s := fmt.Sprintf("%s by list %q, rule %q (%s)", ruleVerb(r.Kind, r.Action, r.Sinkhole), r.List, r.Rule, r.Scope)
	switch {
	case r.Source != "" && r.Line > 0:
		s += fmt.Sprintf(", %s line %d", r.Source, r.Line)
	case r.Source != "":
		s += ", " + r.Source
	}
	if r.Indicator != "" {
		s += ", " + r.Indicator
	}
	return s
}

// ruleVerb renders what a rule does: "allow", or "block (ACTION [sinkhole])".
func ruleVerb(kind, action string, sinkhole []string) string {
	if kind != "block" {
		return "allow"
	}
	verb := "block (" + action
	if len(sinkhole) > 0 {
		verb += " " + strings.Join(sinkhole, ", ")
	}
	return verb + ")"
}
