package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/configs"
	"github.com/bulwark-dns/bulwark/resolver/config"
)

const valid = `listen:
  dns: ["127.0.0.1:5300"]
upstream:
  servers: ["127.0.0.1:5301"]
blocklists:
  - name: phishing
    source: "file:phishing.txt"
`

func TestParseValidAppliesDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte(valid), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream.Timeout != 2*time.Second || cfg.Blocking.TTL != time.Minute || cfg.Log.Blocked != "stdout" ||
		cfg.Listen.UDPSize != 1232 || cfg.Cache.Size == 0 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestEmbeddedDefaultConfigIsValid(t *testing.T) {
	cfg, err := config.Parse(configs.Default(), "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Blocklists) == 0 || cfg.Listen.Admin != "127.0.0.1:9153" {
		t.Errorf("default config = %+v", cfg)
	}
}

func TestParseErrorsHaveLines(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each must appear, in "file:line: ..." form
	}{
		{"unknown top-level key", valid + "colour: blue\n", []string{"t.yaml:8:", "colour"}},
		{"unknown nested key", strings.Replace(valid, "  servers:", "  serverz:", 1), []string{"t.yaml:4:", "serverz"}},
		{"wrong type", valid + "blocking:\n  ttl: soon\n", []string{"t.yaml:9:", "soon"}},
		{"invalid action", valid + "    action: explode\n", []string{"t.yaml:8:", "blocklists[0].action"}},
		{"bad listen address", strings.Replace(valid, `"127.0.0.1:5300"`, `"localhost"`, 1), []string{"t.yaml:2:", "listen.dns[0]"}},
		{"missing upstream servers", strings.Replace(valid, `  servers: ["127.0.0.1:5301"]`, `  timeout: 1s`, 1), []string{"upstream.servers"}},
		{"duplicate list name", valid + "  - name: phishing\n    source: \"file:x\"\n", []string{"t.yaml:8:", "phishing"}},
		{"syntax error", "listen: [\n", []string{"t.yaml:"}},
		{"tenant with an unknown list", valid + "tenants:\n  - name: council-a\n    clients: [\"198.51.100.0/24\"]\n    blocklists:\n      - phishing\n      - malware\n",
			[]string{"t.yaml:13:", `tenants[0].blocklists[1]: unknown list "malware"`}},
		{"tenant with a bad prefix", valid + "tenants:\n  - name: council-a\n    clients:\n      - 198.51.100.0/24\n      - 198.51.100.0/33\n",
			[]string{"t.yaml:12:", `tenants[0].clients[1]: "198.51.100.0/33" is not a CIDR network`}},
		{"duplicate tenant id", valid + "tenants:\n  - name: a\n    ids: [x]\n  - name: b\n    ids: [x]\n",
			[]string{"t.yaml:12:", `tenants[1].ids[0]: duplicate id "x"`}},
		{"unknown tenant key", valid + "tenants:\n  - name: a\n    ids: [x]\n    lists: [phishing]\n",
			[]string{"t.yaml:11:", "field lists not found"}},
		{"two documents", valid + "---\nlisten: {}\n", []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), "t.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not config.Errors", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	bad := `listen:
  dns: ["nope"]
upstream:
  servers: ["127.0.0.1:5301"]
  timeout: -1s
blocking:
  ttl: 0.5s
blocklists:
  - name: a
    source: "file:a.txt"
    action: explode
log:
  level: loud
`
	_, err := config.Parse([]byte(bad), "t.yaml")
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	wantLines := map[int]bool{2: false, 5: false, 7: false, 11: false, 13: false}
	for _, e := range errs {
		if _, ok := wantLines[e.Line]; ok {
			wantLines[e.Line] = true
		}
	}
	for line, seen := range wantLines {
		if !seen {
			t.Errorf("no error reported on line %d; got:\n%v", line, err)
		}
	}
}

// `action: null` is YAML's null; it must still mean the "null" action.
func TestNullActionIsNotYAMLNull(t *testing.T) {
	for _, spelling := range []string{"null", "Null", `"null"`} {
		cfg, err := config.Parse([]byte(valid+"    action: "+spelling+"\n"), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Blocklists[0].Action; got != "null" {
			t.Errorf("action: %s decoded as %q", spelling, got)
		}
	}
	cfg, err := config.Parse([]byte(valid+"    action: ~\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Blocklists[0].Action; got != "" {
		t.Errorf("action: ~ decoded as %q, want unset", got)
	}
}
