package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// writeFiles writes name -> content into a new temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	return testfile.Tree(t, files)
}

// writeFile writes content over path (mode 0644), failing the test if it
// cannot.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	testfile.Replace(t, path, content)
}

const goodConfig = `listen:
  dns: ["127.0.0.1:5300"]
upstream:
  servers: ["127.0.0.1:5301"]
blocklists:
  - name: phishing
    source: "file:lists/phishing.txt"
    category: phishing
  - name: hosts
    source: "file:lists/malware.hosts"
    format: hosts
    action: null
allowlists:
  - name: exceptions
    source: "file:lists/allow.txt"
`

var goodLists = map[string]string{
	"lists/phishing.txt":  "# phishing\nevil.example\nbinance.updog.co\nnot..valid\n",
	"lists/malware.hosts": "0.0.0.0 malware.test\n127.0.0.1 localhost\n",
	"lists/allow.txt":     "good.evil.example\nupdog.co\n",
}

func withConfig(cfg string) map[string]string {
	files := map[string]string{"bulwark.yaml": cfg}
	for k, v := range goodLists {
		files[k] = v
	}
	return files
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, nil)
	return code, out.String(), errb.String()
}

func TestCheckGoodConfig(t *testing.T) {
	dir := writeFiles(t, withConfig(goodConfig))
	code, out, errs := runCmd(t, "check", "-config", filepath.Join(dir, "bulwark.yaml"))
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	for _, want := range []string{`list "phishing"`, "2 entries", "1 rejected", "line 4", `list "hosts"`, "OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckEmbeddedDefault(t *testing.T) {
	code, out, errs := runCmd(t, "check")
	if code != 0 || !strings.Contains(out, `list "phishing"`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

func TestCheckBadConfigs(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown key", withConfig(goodConfig + "colour: blue\n"), []string{"bulwark.yaml:16:", "colour"}},
		{"wrong type", withConfig(goodConfig + "blocking:\n  ttl: [1]\n"), []string{"bulwark.yaml:17:"}},
		{"invalid value", withConfig(strings.Replace(goodConfig, "action: null", "action: explode", 1)), []string{"bulwark.yaml:12:", "blocklists[1].action"}},
		{"several errors", withConfig(strings.Replace(strings.Replace(goodConfig, "action: null", "action: explode", 1), `"127.0.0.1:5300"`, `"nowhere"`, 1)),
			[]string{"bulwark.yaml:2:", "bulwark.yaml:12:", "2 error(s)"}},
		{"missing list file", map[string]string{"bulwark.yaml": goodConfig}, []string{"phishing", "phishing.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			code, _, errs := runCmd(t, "check", "-config", filepath.Join(dir, "bulwark.yaml"))
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
	if code, _, _ := runCmd(t, "check", "-config", "/nonexistent/bulwark.yaml"); code != 1 {
		t.Errorf("missing config file: exit %d, want 1", code)
	}
}

func TestExplain(t *testing.T) {
	dir := writeFiles(t, withConfig(goodConfig))
	cfg := filepath.Join(dir, "bulwark.yaml")
	tests := []struct {
		name string
		want []string
	}{
		{"www.evil.example", []string{"blocked", `list "phishing"`, `rule "evil.example"`, "nxdomain"}},
		{"good.evil.example", []string{"resolved normally", `list "exceptions"`, "also matched, lost", `rule "evil.example"`}},
		{"binance.updog.co", []string{"blocked", `rule "binance.updog.co"`, "also matched, lost", `rule "updog.co"`}},
		{"x.malware.test", []string{"blocked", `list "hosts"`, "null"}},
		{"example.org", []string{"no rule matches"}},
	}
	for _, tt := range tests {
		code, out, errs := runCmd(t, "explain", "-config", cfg, tt.name)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.name, code, errs)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, out)
			}
		}
	}
	if code, _, _ := runCmd(t, "explain", "-config", cfg); code != 2 {
		t.Errorf("explain without NAME: exit %d, want 2", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errs := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
