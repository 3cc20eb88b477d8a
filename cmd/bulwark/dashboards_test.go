package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// The operator-facing monitoring files these tests hold to the binary.
var (
	dashboardPath       = filepath.Join("..", "..", "configs", "grafana", "bulwark.json")
	alertsPath          = filepath.Join("..", "..", "configs", "prometheus", "alerts.yml")
	alertsTestPath      = filepath.Join("..", "..", "configs", "prometheus", "alerts_test.yml")
	promConfigPath      = filepath.Join("..", "..", "configs", "prometheus", "prometheus.yml")
	prometheusRulePath  = filepath.Join("..", "..", "configs", "kubernetes", "prometheusrule.yaml")
	dashboardRows       = []string{"Traffic", "Blocking", "Latency", "Cache", "Upstreams", "Feeds", "Tenants"}
	dashboardPanelTypes = []string{"row", "timeseries", "stat", "table", "heatmap"}
)

// TestDashboardAndAlertsUseExportedMetrics runs the real binary, sends it an
// allowed query, a repeat (a cache hit) and blocked queries so that the
// labelled series exist, scrapes /metrics, and fails on every metric, label
// or label value that the dashboard or the alert rules name but Bulwark does
// not export: a renamed metric must not silently blank a panel or mute an
// alert.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	exposition := scrapeBusyBulwark(t)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	refs := append(dashboardExprs(t), alertExprs(t, alertsPath)...)
	if len(refs) < 20 {
		t.Fatalf("only %d expressions found in the dashboard and alerts", len(refs))
	}
	problems := checkMetricRefs(refs, fams)
	if len(problems) > 0 {
		t.Errorf("the dashboard or alerts use what Bulwark does not export:\n  %s", strings.Join(problems, "\n  "))
	}

	// The exposition itself passes Prometheus' own linter (naming, units,
	// help text), when promtool is here.
	if promtool := lookPromtool(t, false); promtool != "" {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(exposition)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

// scrapeBusyBulwark starts bulwark with a file list, a builtin list, an
// allowlist and a block log sink in front of a fake upstream, sends a few queries, and returns
// its /metrics.
func scrapeBusyBulwark(t *testing.T) []byte {
	t.Helper()
	up := dnstest.Start(t, dnstest.WithWildcard())
	h := newE2EHost(t)
	port, admin := h.port, h.admin
	dir := writeFiles(t, map[string]string{
		"lists/threats.txt": "evil.example\n",
		"lists/allow.txt":   "good.evil.example\n",
	})
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	cfg := h.forwarding(up.Addr) + fmt.Sprintf(`  timeout: 2s
cache:
  size: 1000
blocklists:
  - name: threats
    source: "file:lists/threats.txt"
    category: malware
  - name: phishing
    source: "builtin:phishing.txt"
    format: domains
    action: refused
    category: phishing
allowlists:
  - name: exceptions
    source: "file:lists/allow.txt"
tenants: # the test's client, so that the per-tenant series exist
  - name: council-a
    clients: ["127.0.0.1/32"]
log:
  blocked: %q
  sinks:
    - name: siem
      url: "syslog+udp://127.0.0.1:%d"
`, filepath.Join(dir, "blocked.jsonl"), freePort(t))
	writeFile(t, cfgPath, cfg)
	startBulwark(t, admin, "serve", "-config", cfgPath)

	builtinName := firstListedName(t, filepath.Join("..", "..", "configs", "lists", "phishing.txt"))
	server := fmt.Sprintf("127.0.0.1:%d", port)
	for _, q := range []struct {
		net, name string
		rcode     int
	}{
		{"udp", "www.example.org", dns.RcodeSuccess},
		{"udp", "www.example.org", dns.RcodeSuccess}, // a cache hit
		{"tcp", "mail.example.org", dns.RcodeSuccess},
		{"udp", "good.evil.example", dns.RcodeSuccess},
		{"udp", "login.evil.example", dns.RcodeNameError},
		{"tcp", builtinName, dns.RcodeRefused},
	} {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(q.name), dns.TypeA)
		c := &dns.Client{Net: q.net, Timeout: 5 * time.Second}
		r, _, err := c.Exchange(m, server)
		if err != nil {
			t.Fatalf("%s query %s: %v", q.net, q.name, err)
		}
		if r.Rcode != q.rcode {
			t.Fatalf("%s query %s: rcode %s, want %s", q.net, q.name, dns.RcodeToString[r.Rcode], dns.RcodeToString[q.rcode])
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	return buf.Bytes()
}

// firstListedName returns the first name of a bundled domains list.
func firstListedName(t *testing.T, path string) string {
	t.Helper()
	data := testfile.Read(t, path)
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "*.") {
			return line
		}
	}
	t.Fatalf("%s: no name", path)
	return ""
}

// metricExpr is one PromQL expression and where it was found.
type metricExpr struct {
	where, expr string
}

var (
	metricNameRe = regexp.MustCompile(`\bbulwark_[a-zA-Z0-9_]*[a-zA-Z0-9]`)
	selectorRe   = regexp.MustCompile(`\b(bulwark_[a-zA-Z0-9_]*[a-zA-Z0-9])\s*\{([^}]*)\}`)
	matcherRe    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	groupingRe   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
)

// targetLabels are attached by Prometheus at scrape time, not by Bulwark.
var targetLabels = map[string]bool{"job": true, "instance": true, "pod": true, "node": true, "namespace": true}

// checkMetricRefs lists every bulwark_ metric an expression names that fams
// lacks (a histogram's _bucket, _sum and _count count as the histogram), and
// every selector or grouping label that none of the named metrics carries,
// and every label value matched with = or != that no exported series has.
func checkMetricRefs(refs []metricExpr, fams map[string]*dto.MetricFamily) []string {
	var problems []string
	for _, r := range refs {
		exprLabels := map[string]bool{}
		for _, name := range metricNameRe.FindAllString(r.expr, -1) {
			fam, series := lookupFamily(fams, name)
			if fam == nil {
				problems = append(problems, fmt.Sprintf("%s: metric %s is not exported", r.where, name))
				continue
			}
			for l := range familyLabels(fam, series) {
				exprLabels[l] = true
			}
		}
		for _, sel := range selectorRe.FindAllStringSubmatch(r.expr, -1) {
			fam, series := lookupFamily(fams, sel[1])
			if fam == nil {
				continue // reported above
			}
			labels := familyLabels(fam, series)
			for _, m := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
				label, op, value := m[1], m[2], m[3]
				if targetLabels[label] {
					continue
				}
				values, ok := labels[label]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: %s has no label %q", r.where, sel[1], label))
					continue
				}
				if (op == "=" || op == "!=") && !values[value] {
					problems = append(problems, fmt.Sprintf("%s: no %s series has %s=%q (exported: %s)", r.where, sel[1], label, value, strings.Join(slices.Sorted(maps.Keys(values)), ", ")))
				}
			}
		}
		for _, g := range groupingRe.FindAllStringSubmatch(r.expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				l = strings.TrimSpace(l)
				if l != "" && !targetLabels[l] && !exprLabels[l] {
					problems = append(problems, fmt.Sprintf("%s: grouping label %q is on none of the metrics used", r.where, l))
				}
			}
		}
	}
	return problems
}

// lookupFamily finds name's family; for a histogram or summary's _bucket,
// _sum or _count it returns the base family and the suffix.
func lookupFamily(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, string) {
	if f, ok := fams[name]; ok {
		return f, ""
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f, ok := fams[base]
		if !ok {
			return nil, ""
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			return f, suffix
		case dto.MetricType_SUMMARY:
			if suffix != "_bucket" {
				return f, suffix
			}
		}
	}
	return nil, ""
}

// familyLabels maps each label of fam's series to the values seen; a
// histogram's _bucket series also carry le.
func familyLabels(fam *dto.MetricFamily, suffix string) map[string]map[string]bool {
	labels := map[string]map[string]bool{}
	add := func(name, value string) {
		if labels[name] == nil {
			labels[name] = map[string]bool{}
		}
		labels[name][value] = true
	}
	for _, m := range fam.GetMetric() {
		for _, lp := range m.GetLabel() {
			add(lp.GetName(), lp.GetValue())
		}
		if suffix == "_bucket" {
			for _, b := range m.GetHistogram().GetBucket() {
				add("le", model.FloatString(b.GetUpperBound()).String())
			}
			add("le", "+Inf")
		}
	}
	return labels
}

// grafanaDashboard is the part of Grafana's dashboard JSON model the tests
// read.
type grafanaDashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int            `json:"schemaVersion"`
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's panels
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	var d grafanaDashboard
	loadFile(t, dashboardPath, &d)
	return d
}

// loadFile decodes the monitoring file at path into v: JSON (.json) or
// YAML, whose every key must be one of v's, so that a misspelt key fails
// the test instead of leaving a field empty.
func loadFile(t *testing.T, path string, v any) {
	t.Helper()
	data := testfile.Read(t, path)
	var err error
	if filepath.Ext(path) == ".json" {
		err = json.NewDecoder(bytes.NewReader(data)).Decode(v)
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(v)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// allPanels flattens rows, collapsed or not.
func allPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardExprs returns every panel target's expression and every query
// variable's query.
func dashboardExprs(t *testing.T) []metricExpr {
	t.Helper()
	d := loadDashboard(t)
	var out []metricExpr
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, metricExpr{fmt.Sprintf("dashboard panel %q target %s", p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("dashboard variable %q: query is neither an object nor a string: %s", v.Name, v.Query)
			}
		}
		out = append(out, metricExpr{fmt.Sprintf("dashboard variable %q", v.Name), q.Query})
	}
	return out
}

// alertRuleFile is the rule file format of Prometheus.
type alertRuleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadAlerts(t *testing.T, path string) alertRuleFile {
	t.Helper()
	var f alertRuleFile
	loadFile(t, path, &f)
	return f
}

func alertExprs(t *testing.T, path string) []metricExpr {
	t.Helper()
	var out []metricExpr
	for _, g := range loadAlerts(t, path).Groups {
		for _, r := range g.Rules {
			out = append(out, metricExpr{fmt.Sprintf("alert %s", r.Alert), r.Expr})
		}
	}
	return out
}

// TestDashboardIsImportable checks the dashboard against what Grafana needs
// to import and provision it: a datasource input and variable every panel
// uses, unique panel ids, known panel types, units, the rows, and a
// grid without overlaps.
func TestDashboardIsImportable(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want 39 or later", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed for provisioning and links", d.UID, d.Title)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs %+v: want one prometheus datasource input DS_PROMETHEUS", d.Inputs)
	}
	hasDSVar := slices.ContainsFunc(d.Templating.List, func(v struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Query      json.RawMessage `json:"query"`
		Definition string          `json:"definition"`
	}) bool {
		return v.Name == "DS_PROMETHEUS" && v.Type == "datasource"
	})
	if !hasDSVar {
		t.Error("no datasource variable DS_PROMETHEUS: a provisioned copy would have no data source")
	}

	ids := map[int]string{}
	var rows []string
	type cell struct{ x, y int }
	grid := map[cell]string{}
	panels := allPanels(d.Panels)
	for _, p := range panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel %q: id %d already used by %q", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		if !slices.Contains(dashboardPanelTypes, p.Type) {
			t.Errorf("panel %q: type %q, want one of %v", p.Title, p.Type, dashboardPanelTypes)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := grid[cell{x, y}]; ok {
					t.Errorf("panel %q overlaps %q at column %d row %d", p.Title, other, x, y)
					x, y = g.X+g.W, g.Y+g.H // one report per pair
					continue
				}
				grid[cell{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %+v, want prometheus ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s: empty expr", p.Title, tg.RefID)
			}
		}
		if (p.Type == "timeseries" || p.Type == "stat") && p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q: no unit", p.Title)
		}
	}
	if !slices.Equal(rows, dashboardRows) {
		t.Errorf("rows %v, want %v", rows, dashboardRows)
	}
}

// grafanaVarRe matches $name, ${name} and ${name:format} in a Grafana query.
var grafanaVarRe = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\$([a-zA-Z0-9_]+)`)

// promqlFromGrafana replaces Grafana's variables with values Prometheus
// can parse: durations for the interval variables, a match-all regexp for
// the template variables (all used with =~).
func promqlFromGrafana(expr string) string {
	return grafanaVarRe.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}")
		name, _, _ = strings.Cut(name, ":")
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		case "__range_s", "__interval_ms", "__range_ms":
			return "300"
		}
		return ".*"
	})
}

// TestDashboardPromQLParses hands every dashboard expression to promtool
// (as recording rules), so a typo in a panel fails here, not on a screen.
func TestDashboardPromQLParses(t *testing.T) {
	promtool := lookPromtool(t, true)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	exprs := dashboardExprs(t)
	for i, e := range exprs {
		if strings.HasPrefix(e.expr, "label_values(") {
			// A Grafana function, not PromQL: check its selector.
			e.expr = strings.TrimSuffix(strings.TrimPrefix(e.expr, "label_values("), ")")
			if i := strings.LastIndex(e.expr, ","); i > 0 {
				e.expr = e.expr[:i]
			}
		}
		q, _ := json.Marshal(promqlFromGrafana(e.expr)) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: dashboard:expr_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	writeFile(t, path, rules.String())
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Errorf("promtool rejects a dashboard expression: %v\n%s\n(expressions in order:)\n%s", err, out, listExprs(exprs))
	}
}

func listExprs(exprs []metricExpr) string {
	var b strings.Builder
	for i, e := range exprs {
		fmt.Fprintf(&b, "  %d %s: %s\n", i, e.where, e.expr)
	}
	return b.String()
}

// TestAlertRules checks each rule's shape (a severity and text an on-call
// operator can act on) and, with promtool, that Prometheus loads the rules,
// that the unit tests in alerts_test.yml (each alert firing on synthetic
// series, and staying quiet where it must) pass, and that the example
// scrape config loads.
func TestAlertRules(t *testing.T) {
	f := loadAlerts(t, alertsPath)
	if len(f.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	names := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert name (recording rules belong elsewhere)", g.Name)
				continue
			}
			if names[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			names[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: needs summary and description annotations", r.Alert)
			}
		}
	}
	// The four, under the names the README documents.
	for _, want := range []string{"BulwarkFeedStale", "BulwarkUpstreamDown", "BulwarkServfailRatioHigh", "BulwarkLatencyHigh"} {
		if !names[want] {
			t.Errorf("alert %s missing", want)
		}
	}
	// Every alert has a unit test.
	data := testfile.Read(t, alertsTestPath)
	for name := range names {
		if !strings.Contains(string(data), "alertname: "+name+"\n") {
			t.Errorf("alert %s has no test in %s", name, alertsTestPath)
		}
	}

	promtool := lookPromtool(t, true)
	for _, args := range [][]string{
		{"check", "rules", alertsPath},
		{"test", "rules", alertsTestPath},
		{"check", "config", promConfigPath},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusRuleMatchesAlerts keeps the Prometheus Operator's copy of
// the rules identical to alerts.yml.
func TestPrometheusRuleMatchesAlerts(t *testing.T) {
	var plain, crd struct {
		Groups any `yaml:"groups"`
		Spec   struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	for _, f := range []struct {
		path string
		into any
	}{{alertsPath, &plain}, {prometheusRulePath, &crd}} {
		data := testfile.Read(t, f.path)
		if err := yaml.Unmarshal(data, f.into); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
	}
	a, _ := json.MarshalIndent(plain.Groups, "", " ")
	b, _ := json.MarshalIndent(crd.Spec.Groups, "", " ")
	if plain.Groups == nil || !bytes.Equal(a, b) {
		t.Errorf("%s spec.groups differs from %s groups; copy the groups over (indented under spec:)", prometheusRulePath, alertsPath)
	}
}

// lookPromtool returns promtool's path (Debian's prometheus package). With
// required, a missing promtool skips the test on a developer machine and
// fails it in CI, whose make deps installs it; otherwise it returns "".
func lookPromtool(t *testing.T, required bool) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("promtool not installed: .ci/run (make deps) must install Debian's prometheus package")
	}
	if required {
		t.Skip("promtool not installed (apt-get install --no-install-recommends prometheus)")
	}
	t.Log("promtool not installed: /metrics not linted")
	return ""
}

// TestCheckMetricRefs pins what the metric check catches, on a small
// exposition.
func TestCheckMetricRefs(t *testing.T) {
	const exposition = `# TYPE bulwark_queries_total counter
bulwark_queries_total{proto="udp",qtype="A"} 3
# TYPE bulwark_responses_total counter
bulwark_responses_total{rcode="NOERROR"} 2
bulwark_responses_total{rcode="SERVFAIL"} 1
# TYPE bulwark_request_duration_seconds histogram
bulwark_request_duration_seconds_bucket{le="0.5"} 2
bulwark_request_duration_seconds_bucket{le="+Inf"} 3
bulwark_request_duration_seconds_sum 1
bulwark_request_duration_seconds_count 3
`
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		want string // "" for no problem, else a substring of the one problem
	}{
		{`sum by (proto) (rate(bulwark_queries_total{job=~"$job", instance=~"$instance"}[5m]))`, ""},
		{`sum(rate(bulwark_responses_total{rcode="SERVFAIL"}[5m])) / sum(rate(bulwark_responses_total[5m]))`, ""},
		{`sum(rate(bulwark_responses_total{rcode!="NOERROR"}[5m]))`, ""},
		{`histogram_quantile(0.99, sum by (le, instance) (rate(bulwark_request_duration_seconds_bucket{le!="0.5"}[5m])))`, ""},
		{`rate(bulwark_request_duration_seconds_sum[5m]) / rate(bulwark_request_duration_seconds_count[5m])`, ""},
		{`up{job="bulwark"} == 0`, ""},
		{`rate(bulwark_querys_total[5m])`, "metric bulwark_querys_total is not exported"},
		{`rate(bulwark_queries_total_bucket[5m])`, "metric bulwark_queries_total_bucket is not exported"},
		{`rate(bulwark_queries_total{protocol="udp"}[5m])`, `has no label "protocol"`},
		{`rate(bulwark_responses_total{rcode="ServFail"}[5m])`, `no bulwark_responses_total series has rcode="ServFail"`},
		{`sum by (list) (rate(bulwark_queries_total[5m]))`, `grouping label "list"`},
		{`bulwark_queries_total and on (instance, feed) bulwark_responses_total`, `grouping label "feed"`},
	}
	for _, tt := range tests {
		got := checkMetricRefs([]metricExpr{{"test", tt.expr}}, fams)
		switch {
		case tt.want == "" && len(got) > 0:
			t.Errorf("%s: unexpected problems %q", tt.expr, got)
		case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
			t.Errorf("%s: problems %q, want one with %q", tt.expr, got, tt.want)
		}
	}
}

// TestPromQLFromGrafana pins the variable substitution the syntax check
// relies on.
func TestPromQLFromGrafana(t *testing.T) {
	for in, want := range map[string]string{
		`rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval])`: `rate(x{job=~".*", instance=~".*"}[5m])`,
		`increase(x[$__range]) / ${__range_s}`:                            `increase(x[5m]) / 300`,
		`x{a=~"${instance:regex}"}`:                                       `x{a=~".*"}`,
		`x`:                                                               `x`,
	} {
		if got := promqlFromGrafana(in); got != want {
			t.Errorf("promqlFromGrafana(%q) = %q, want %q", in, got, want)
		}
	}
}
