package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// explainConfig has one list of each kind the explain tests need; it
// follows an e2eHost's forwarding head.
const explainConfig = `  conditional:
    - domains: [corp.internal]
      servers: ["127.0.0.1:1"]
blocking:
  ttl: 30s
blocklists:
  - name: phishing
    source: "file:lists/phishing.txt"
  - name: more
    source: "file:lists/more.txt"
    action: refused
    category: scams
  - name: zone
    source: "file:lists/zone.rpz"
    format: rpz
  - name: hosts
    source: "file:lists/malware.hosts"
    action: null
allowlists:
  - name: exceptions
    source: "file:lists/allow.txt"
log:
  blocked: "off"
`

var explainLists = map[string]string{
	"lists/phishing.txt":  "# phishing\nevil.example\nbinance.updog.co\ndup.example\n",
	"lists/more.txt":      "dup.example\n",
	"lists/zone.rpz":      "$TTL 300\n$ORIGIN rpz.test.\n@ SOA ns. admin. 1 2 3 4 5\nexact.example CNAME .\n*.wild.example CNAME *.\npass.evil.example CNAME rpz-passthru.\ndrop.example CNAME rpz-drop.\nsink.example A 192.0.2.7\nsink.example AAAA 2001:db8::7\n",
	"lists/malware.hosts": "0.0.0.0 malware.test\n",
	"lists/allow.txt":     "good.evil.example\nupdog.co\n",
}

// explainCase is one name and what its explanation must say.
type explainCase struct {
	name     string
	decision string
	rule     string // the deciding rule as "list:rule:scope:line", "" for none
	answer   []string
	lost     []string // each lost rule as "list:rule:reason fragment"
	note     string
}

var explainCases = []explainCase{
	{name: "www.evil.example", decision: "blocked", rule: "phishing:evil.example:subtree:2",
		answer: []string{"NXDOMAIN", "SOA for evil.example", "TTL 30s", `EDE 15 "blocked by list phishing"`}, note: "never resolved"},
	{name: "exact.example", decision: "blocked", rule: "zone:exact.example:exact:4", answer: []string{"NXDOMAIN", "SOA for exact.example"}},
	{name: "www.exact.example", decision: "no rule", answer: []string{"forwarded to the upstreams"}},
	{name: "a.b.wild.example", decision: "blocked", rule: "zone:*.wild.example:below:5", answer: []string{"NODATA", "SOA for wild.example"}},
	{name: "wild.example", decision: "no rule"},
	{name: "good.evil.example", decision: "allowed", rule: "exceptions:good.evil.example:subtree:1",
		answer: []string{"resolved normally"}, lost: []string{"phishing:evil.example:less specific"}, note: "CNAME cloaking"},
	{name: "binance.updog.co", decision: "blocked", rule: "phishing:binance.updog.co:subtree:3",
		lost: []string{"exceptions:updog.co:less specific"}},
	// Feed trust: the zone's passthru lifts only the zone's own blocks.
	{name: "pass.evil.example", decision: "blocked", rule: "phishing:evil.example:subtree:2",
		lost: []string{`zone:pass.evil.example:an exception inside list "zone" lifts only that list's blocks`}},
	{name: "drop.example", decision: "blocked", rule: "zone:drop.example:exact:7", answer: []string{"no answer at all"}},
	{name: "sink.example", decision: "blocked", rule: "zone:sink.example:exact:8", answer: []string{"A 192.0.2.7", "AAAA 2001:db8::7"}},
	{name: "x.malware.test", decision: "blocked", rule: "hosts:malware.test:subtree:1", answer: []string{"0.0.0.0 to A queries"}},
	{name: "dup.example", decision: "blocked", rule: "phishing:dup.example:subtree:4",
		answer: []string{"NXDOMAIN"}, lost: []string{`more:dup.example:the same rule in list "phishing"`}},
	{name: "WWW.Corp.Internal.", decision: "no rule", answer: []string{"forwarded to 127.0.0.1:1 (upstream.conditional for corp.internal)"}, note: "CNAME cloaking"},
	{name: "example.org", decision: "no rule", answer: []string{"resolved normally"}, note: "CNAME cloaking"},
}

func checkExplanation(t *testing.T, via string, c explainCase, ex *explanation) {
	t.Helper()
	if ex.Decision != c.decision {
		t.Errorf("%s %s: decision %q, want %q", via, c.name, ex.Decision, c.decision)
	}
	rule := ""
	if ex.Rule != nil {
		rule = fmt.Sprintf("%s:%s:%s:%d", ex.Rule.List, ex.Rule.Rule, ex.Rule.Scope, ex.Rule.Line)
		if !strings.HasSuffix(ex.Rule.Source, ".txt") && !strings.HasSuffix(ex.Rule.Source, ".rpz") && !strings.HasSuffix(ex.Rule.Source, ".hosts") {
			t.Errorf("%s %s: rule source %q is not the list file", via, c.name, ex.Rule.Source)
		}
	}
	if rule != c.rule {
		t.Errorf("%s %s: rule %q, want %q", via, c.name, rule, c.rule)
	}
	for _, a := range c.answer {
		if !strings.Contains(ex.Answer, a) {
			t.Errorf("%s %s: answer %q lacks %q", via, c.name, ex.Answer, a)
		}
	}
	if len(ex.AlsoMatched) != len(c.lost) {
		t.Errorf("%s %s: %d rules lost, want %d: %+v", via, c.name, len(ex.AlsoMatched), len(c.lost), ex.AlsoMatched)
	}
	for i, l := range c.lost {
		if i >= len(ex.AlsoMatched) {
			break
		}
		r := ex.AlsoMatched[i]
		if got := r.List + ":" + r.Rule + ":" + r.Lost; !strings.HasPrefix(got, l) && !strings.Contains(got, l) {
			t.Errorf("%s %s: lost rule %d = %q, want %q", via, c.name, i, got, l)
		}
		if r.Line == 0 {
			t.Errorf("%s %s: lost rule %d has no line", via, c.name, i)
		}
	}
	if !strings.Contains(ex.Note, c.note) {
		t.Errorf("%s %s: note %q lacks %q", via, c.name, ex.Note, c.note)
	}
}

// explainCLI runs `bulwark explain -json` on cfgPath for name, with args
// as flags (flag -> values), and returns the explanation and the call.
func explainCLI(t *testing.T, cfgPath, name string, args map[string][]string) (*explanation, string) {
	t.Helper()
	cmd := []string{"explain", "-json", "-config", cfgPath}
	for flag, vs := range args {
		for _, v := range vs {
			cmd = append(cmd, "-"+flag, v)
		}
	}
	cmd = append(cmd, name)
	via := strings.Join(cmd, " ")
	code, out, errs := runCmd(t, cmd...)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", via, code, errs)
	}
	var ex explanation
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("%s: %v\n%s", via, err, out)
	}
	return &ex, via
}

// explainAPI is explainCLI over GET /explain on admin, args as parameters.
func explainAPI(t *testing.T, admin, name string, args map[string][]string) (*explanation, string) {
	t.Helper()
	q := url.Values{"name": {name}}
	for flag, vs := range args {
		q[flag] = vs
	}
	via := "GET /explain?" + q.Encode()
	status, body := adminGet(t, admin, "/explain?"+q.Encode())
	if status != http.StatusOK {
		t.Fatalf("%s: %d %s", via, status, body)
	}
	var ex explanation
	if err := json.Unmarshal([]byte(body), &ex); err != nil {
		t.Fatalf("%s: %v\n%s", via, err, body)
	}
	return &ex, via
}

// serveExplainConfig serves explainConfig (with extra appended) and its
// lists until the test ends; it returns the config's path and the admin
// address.
func serveExplainConfig(t *testing.T, extra string) (cfgPath, admin string) {
	t.Helper()
	up := dnstest.Start(t, dnstest.WithWildcard())
	h := newE2EHost(t)
	admin = h.admin
	files := map[string]string{"bulwark.yaml": h.forwarding(up.Addr) + explainConfig + extra}
	for k, v := range explainLists {
		files[k] = v
	}
	cfgPath = filepath.Join(writeFiles(t, files), "bulwark.yaml")
	serveInProcess(t, cfgPath)
	waitReady(t, admin, "/readyz")
	return cfgPath, admin
}

// TestExplainEveryRuleKind asks `bulwark explain -json` and GET /explain
// (the same code, on the loaded lists and on the served ones) about a
// name of each rule kind, and checks the text forms agree too.
func TestExplainEveryRuleKind(t *testing.T) {
	cfgPath, admin := serveExplainConfig(t, "")

	for _, c := range explainCases {
		cli, _ := explainCLI(t, cfgPath, c.name, nil)
		checkExplanation(t, "cli", c, cli)
		api, _ := explainAPI(t, admin, c.name, nil)
		checkExplanation(t, "api", c, api)

		_, text, _ := runCmd(t, "explain", "-config", cfgPath, c.name)
		_, apiText := adminGet(t, admin, "/explain?format=text&name="+url.QueryEscape(c.name))
		_, acceptText := adminGet(t, admin, "/explain?name="+url.QueryEscape(c.name), "Accept", "text/plain")
		if text != apiText || text != acceptText {
			t.Errorf("%s: text forms differ:\ncli:\n%s\napi:\n%s\naccept:\n%s", c.name, text, apiText, acceptText)
		}
	}
	// The text form names the deciding rule's line and each loser's.
	_, text, _ := runCmd(t, "explain", "-config", cfgPath, "dup.example")
	for _, want := range []string{"dup.example: blocked", `decided by: block (nxdomain) by list "phishing", rule "dup.example" (subtree)`,
		"phishing.txt line 4", `also matched, lost: block (refused) by list "more"`, "more.txt line 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain text lacks %q:\n%s", want, text)
		}
	}

	for _, bad := range []string{"", "a..b", "http%3A%2F%2Fx.example%2F"} {
		if code, body := adminGet(t, admin, "/explain?name="+bad); code != http.StatusBadRequest {
			t.Errorf("GET /explain?name=%s: %d %s, want 400", bad, code, body)
		}
	}
	if code, _, errs := runCmd(t, "explain", "-config", cfgPath, "a..b"); code != 2 || !strings.Contains(errs, "not a domain name") {
		t.Errorf("explain a..b: exit %d, %s", code, errs)
	}
}

// TestExplainUnloadedList: a list explain could not read (an HTTP list
// without a cached copy) is named, since its rules were not considered.
func TestExplainUnloadedList(t *testing.T) {
	cfg := strings.Replace(goodConfig, "allowlists:", "  - name: remote\n    source: \"https://feeds.invalid/list.txt\"\nallowlists:", 1)
	dir := writeFiles(t, withConfig(cfg))
	code, out, errs := runCmd(t, "explain", "-config", filepath.Join(dir, "bulwark.yaml"), "evil.example")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "not considered: list remote") {
		t.Errorf("output does not name the unloaded list:\n%s", out)
	}
}

// explainTenants are two tenants over explainConfig's lists; council-a
// claims the exceptions list, so the default policy is without it.
const explainTenants = `tenants:
  - name: council-a
    clients: ["198.51.100.0/24"]
    blocklists: [phishing]
    allowlists: [exceptions]
    actions: {phishing: sinkhole}
    sinkhole: ["192.0.2.66"]
  - name: council-b
    clients: ["203.0.113.0/24"]
    blocklists: [more, hosts]
`

// TestExplainForTenant: explain -client IP and -tenant NAME (and
// ?client=, ?tenant=) decide with that tenant's lists, exceptions and
// actions, and say which matching rules belong to lists it does not use.
func TestExplainForTenant(t *testing.T) {
	cfgPath, admin := serveExplainConfig(t, explainTenants)
	for _, c := range []struct {
		flag, value, tenant string
		explainCase
	}{
		{"tenant", "council-a", "council-a", explainCase{name: "www.evil.example", decision: "blocked",
			rule: "phishing:evil.example:subtree:2", answer: []string{"A 192.0.2.66"}}},
		{"client", "198.51.100.7", "council-a", explainCase{name: "good.evil.example", decision: "allowed",
			rule: "exceptions:good.evil.example:subtree:1", lost: []string{"phishing:evil.example:less specific"}}},
		{"tenant", "council-b", "council-b", explainCase{name: "www.evil.example", decision: "no rule",
			lost: []string{`phishing:evil.example:list "phishing" is not one of tenant "council-b"'s lists`}}},
		{"client", "203.0.113.1", "council-b", explainCase{name: "dup.example", decision: "blocked",
			rule: "more:dup.example:subtree:1", answer: []string{"REFUSED"},
			lost: []string{`phishing:dup.example:list "phishing" is not one of tenant "council-b"'s lists`}}},
		{"client", "192.0.2.1", "", explainCase{name: "good.evil.example", decision: "blocked",
			rule: "phishing:evil.example:subtree:2", answer: []string{"NXDOMAIN"},
			lost: []string{`exceptions:good.evil.example:list "exceptions" is not one of the default policy's lists`}}},
		{"", "", "", explainCase{name: "good.evil.example", decision: "blocked", rule: "phishing:evil.example:subtree:2",
			lost: []string{`exceptions:good.evil.example:list "exceptions" is not one of the default policy's`}}},
	} {
		var args map[string][]string
		if c.flag != "" {
			args = map[string][]string{c.flag: {c.value}}
		}
		cli, viaCLI := explainCLI(t, cfgPath, c.name, args)
		api, viaAPI := explainAPI(t, admin, c.name, args)
		for via, ex := range map[string]*explanation{viaCLI: cli, viaAPI: api} {
			checkExplanation(t, via, c.explainCase, ex)
			if ex.Tenant != c.tenant {
				t.Errorf("%s %s: tenant %q, want %q", via, c.name, ex.Tenant, c.tenant)
			}
		}
	}
	if _, text, _ := runCmd(t, "explain", "-config", cfgPath, "-tenant", "council-a", "evil.example"); !strings.Contains(text, `policy: tenant "council-a"`) {
		t.Errorf("explain text does not name the tenant:\n%s", text)
	}
	for _, bad := range [][]string{{"-tenant", "nobody"}, {"-client", "not-an-ip"}, {"-client", "192.0.2.1", "-tenant", "council-a"}} {
		if code, _, errs := runCmd(t, append(append([]string{"explain", "-config", cfgPath}, bad...), "evil.example")...); code != 2 || errs == "" {
			t.Errorf("explain %v: exit %d (%s), want 2 with a reason", bad, code, errs)
		}
		if code, body := adminGet(t, admin, "/explain?name=evil.example&"+strings.TrimPrefix(bad[0], "-")+"="+url.QueryEscape(bad[1])); len(bad) == 2 && code != http.StatusBadRequest {
			t.Errorf("GET /explain with %v: %d %s, want 400", bad, code, body)
		}
	}
}
