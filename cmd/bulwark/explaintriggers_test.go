package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
)

// The zones of TestExplainRPZTriggers: first, then second.
var explainTriggerLists = map[string]string{
	"lists/first.rpz": "$ORIGIN first.rpz.\n@ SOA ns. admin. 1 2 3 4 5\n" +
		"24.0.2.0.192.rpz-client-ip CNAME .\n" + // a blocked client network
		"32.5.0.0.10.rpz-ip CNAME rpz-passthru.\n" + // an answer address let through
		"named.example CNAME rpz-passthru.\n",
	"lists/second.rpz": "$ORIGIN second.rpz.\n@ SOA ns. admin. 1 2 3 4 5\n" +
		"16.0.0.0.192.rpz-client-ip CNAME rpz-drop.\n" +
		"8.0.0.0.10.rpz-ip CNAME *.\n" +
		"24.9.100.51.198.rpz-ip A 192.0.2.66\n" +
		"ns.evil.example.rpz-nsdname CNAME .\n" +
		"32.53.0.0.10.rpz-nsip CNAME .\n",
}

const explainTriggerConfig = `blocklists:
  - name: first
    source: "file:lists/first.rpz"
  - name: second
    source: "file:lists/second.rpz"
log:
  blocked: "off"
`

// triggerCase is one explain call with trigger arguments and what it must
// say: the decision, the trigger that decides ("" the name), and each
// trigger rule as "trigger matched list rule" with "decides" or a
// fragment of why it lost.
type triggerCase struct {
	name      string
	args      map[string][]string // flag -> values
	decision  string
	decidedBy string
	answer    string
	triggers  [][2]string
}

// TestExplainRPZTriggers: explain -client, -addr and -ns (and ?client=,
// ?addr=, ?ns=) show the rpz-client-ip, rpz-ip, rpz-nsdname and rpz-nsip
// rules of every list that apply, which decides in RPZ order, and why the
// others lose; in forwarding mode the name-server rules cannot apply.
func TestExplainRPZTriggers(t *testing.T) {
	cases := []triggerCase{
		{name: "www.example", args: map[string][]string{"client": {"192.0.2.9"}}, decision: "blocked", decidedBy: "rpz-client-ip",
			answer: "NXDOMAIN", triggers: [][2]string{
				{"rpz-client-ip 192.0.2.9 first 192.0.2.0/24", "decides"},
				{"rpz-client-ip 192.0.2.9 second 192.0.0.0/16", "a rule of an earlier list"}}},
		{name: "named.example", args: map[string][]string{"client": {"192.0.7.7"}}, decision: "allowed",
			triggers: [][2]string{{"rpz-client-ip 192.0.7.7 second 192.0.0.0/16", `the name's rule in list "first" decides first`}}},
		{name: "www.example", args: map[string][]string{"addr": {"198.51.100.9", "203.0.113.1"}}, decision: "blocked", decidedBy: "rpz-ip",
			answer: "A 192.0.2.66", triggers: [][2]string{{"rpz-ip 198.51.100.9 second 198.51.100.0/24", "decides"}}},
		{name: "www.example", args: map[string][]string{"addr": {"10.0.0.5"}}, decision: "no rule",
			triggers: [][2]string{
				{"rpz-ip 10.0.0.5 first 10.0.0.5/32", "a passthru"},
				{"rpz-ip 10.0.0.5 second 10.0.0.0/8", "an earlier list"}}},
		{name: "www.example", args: map[string][]string{"client": {"192.0.2.1"}, "addr": {"10.1.1.1"}}, decision: "blocked", decidedBy: "rpz-client-ip",
			triggers: [][2]string{
				{"rpz-client-ip 192.0.2.1 first 192.0.2.0/24", "decides"},
				{"rpz-client-ip 192.0.2.1 second 192.0.0.0/16", "a rule of an earlier list"},
				{"rpz-ip 10.1.1.1 second 10.0.0.0/8", "blocked before it is resolved"}}},
		{name: "www.example", args: map[string][]string{"ns": {"ns.evil.example", "10.0.0.53"}}, decision: "no rule",
			triggers: [][2]string{
				{"rpz-nsdname ns.evil.example second ns.evil.example", "forwarding mode"},
				{"rpz-nsip 10.0.0.53 second 10.0.0.53/32", "forwarding mode"}}},
	}
	dir := writeFiles(t, withTriggerLists(map[string]string{"bulwark.yaml": newE2EHost(t).forwarding("127.0.0.1:1") + explainTriggerConfig}))
	up := newE2EHost(t)
	recDir := writeFiles(t, withTriggerLists(map[string]string{"bulwark.yaml": up.recursive("127.0.0.2", 53, explainTriggerConfig)}))
	for _, c := range cases {
		checkTriggerCase(t, filepath.Join(dir, "bulwark.yaml"), "", c)
	}
	// Recursive mode: the name-server rules apply.
	checkTriggerCase(t, filepath.Join(recDir, "bulwark.yaml"), "", triggerCase{name: "www.example",
		args: map[string][]string{"ns": {"ns.evil.example"}, "addr": {"192.0.2.1"}}, decision: "blocked", decidedBy: "rpz-nsdname",
		answer: "NXDOMAIN", triggers: [][2]string{{"rpz-nsdname ns.evil.example second ns.evil.example", "decides"}}})
	// The same over GET /explain, on the lists being served.
	up2 := dnstest.Start(t, dnstest.WithWildcard())
	h := newE2EHost(t)
	served := writeFiles(t, withTriggerLists(map[string]string{"bulwark.yaml": h.forwarding(up2.Addr) + explainTriggerConfig}))
	serveInProcess(t, filepath.Join(served, "bulwark.yaml"))
	waitReady(t, h.admin, "/readyz")
	for _, c := range cases {
		checkTriggerCase(t, "", h.admin, c)
	}

	for _, bad := range [][]string{{"-addr", "not-an-ip"}, {"-ns", "a..b"}} {
		code, _, errs := runCmd(t, "explain", "-config", filepath.Join(dir, "bulwark.yaml"), bad[0], bad[1], "www.example")
		if code != 2 || errs == "" {
			t.Errorf("explain %v: exit %d (%s), want 2 with a reason", bad, code, errs)
		}
	}
	// The text form lists them.
	_, text, _ := runCmd(t, "explain", "-config", filepath.Join(dir, "bulwark.yaml"), "-client", "192.0.2.9", "www.example")
	for _, want := range []string{"www.example: blocked", "decided by the rpz-client-ip trigger",
		`decided by: rpz-client-ip 192.0.2.9: block (nxdomain) by list "first", rule "192.0.2.0/24"`,
		`trigger, lost: rpz-client-ip 192.0.2.9: block (drop) by list "second", rule "192.0.0.0/16"`} {
		if !strings.Contains(text, want) {
			t.Errorf("explain text lacks %q:\n%s", want, text)
		}
	}
}

func withTriggerLists(files map[string]string) map[string]string {
	for k, v := range explainTriggerLists {
		files[k] = v
	}
	return files
}

// checkTriggerCase runs c by the CLI on cfgPath, or over GET /explain on
// admin, and checks the explanation.
func checkTriggerCase(t *testing.T, cfgPath, admin string, c triggerCase) {
	t.Helper()
	var ex *explanation
	var via string
	if admin == "" {
		ex, via = explainCLI(t, cfgPath, c.name, c.args)
	} else {
		ex, via = explainAPI(t, admin, c.name, c.args)
	}
	if ex.Decision != c.decision || ex.DecidedBy != c.decidedBy || !strings.Contains(ex.Answer, c.answer) {
		t.Errorf("%s: decision %q by %q, answer %q; want %q by %q, answer with %q", via, ex.Decision, ex.DecidedBy, ex.Answer,
			c.decision, c.decidedBy, c.answer)
	}
	if c.triggers == nil {
		if len(ex.Triggers) == 0 {
			t.Errorf("%s: no trigger rule shown", via)
		}
		return
	}
	if len(ex.Triggers) != len(c.triggers) {
		t.Errorf("%s: %d trigger rules, want %d: %+v", via, len(ex.Triggers), len(c.triggers), ex.Triggers)
		return
	}
	for i, w := range c.triggers {
		r := ex.Triggers[i]
		got := strings.Join([]string{r.Trigger, r.Matched, r.List, r.Rule}, " ")
		lost := r.Lost
		if lost == "" {
			lost = "decides"
		}
		if got != w[0] || !strings.Contains(lost, w[1]) {
			t.Errorf("%s: trigger rule %d = %q (%s), want %q (%s)", via, i, got, lost, w[0], w[1])
		}
	}
}
