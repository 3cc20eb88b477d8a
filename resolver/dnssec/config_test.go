package dnssec

import (
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestConfig: the dnssec section's defaults, its on/off rule per mode, and
// a clear error for each invalid value.
func TestConfig(t *testing.T) {
	tests := []struct {
		name           string
		yaml           string
		recursive, fwd bool // Enabled in each mode
		wantErr        []string
	}{
		{"absent", "{}", true, false, nil},
		{"on", "validate: true", true, true, nil},
		{"off", "validate: false", false, false, nil},
		{"anchor file", "trust_anchor_file: " + writeAnchor(t, ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"), true, false, nil},
		{"anchor file missing", "trust_anchor_file: " + filepath.Join(t.TempDir(), "nope"), true, false, []string{"dnssec.trust_anchor_file", "no such file"}},
		{"anchor file unparsable", "trust_anchor_file: " + writeAnchor(t, ". IN DS 20326 8 2 not-hex"), true, false, []string{"dnssec.trust_anchor_file"}},
		{"anchor file with other records", "trust_anchor_file: " + writeAnchor(t, "example. IN A 192.0.2.1"), true, false, []string{"only DS and DNSKEY records are trust anchors"}},
		{"negative anchors", "negative_trust_anchors: [broken.example, other.test.]", true, false, nil},
		{"bad negative anchor", "negative_trust_anchors: [\"a..b\"]", true, false, []string{"dnssec.negative_trust_anchors[0]"}},
		{"override date", "override_date: \"20260601120000\"", true, false, nil},
		{"bad override date", "override_date: \"2026-06-01\"", true, false, []string{"dnssec.override_date", "YYYYMMDDHHMMSS"}},
		{"bogus ttl fraction", "bogus_ttl: 1500ms", true, false, []string{"dnssec.bogus_ttl"}},
		{"iterations", "nsec3_max_iterations: 70000", true, false, []string{"dnssec.nsec3_max_iterations"}},
		{"key cache", "key_cache_size: 0", true, false, []string{"dnssec.key_cache_size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			if err := yaml.Unmarshal([]byte(tc.yaml), &c); err != nil {
				t.Fatal(err)
			}
			c.SetDefaults()
			errs := c.Validate("dnssec")
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			joined := strings.Join(all, "\n")
			if len(tc.wantErr) == 0 && len(errs) > 0 {
				t.Fatalf("unexpected errors:\n%s", joined)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(joined, w) {
					t.Fatalf("errors lack %q:\n%s", w, joined)
				}
			}
			if c.Enabled(true) != tc.recursive || c.Enabled(false) != tc.fwd {
				t.Fatalf("enabled recursive=%v forwarding=%v, want %v %v", c.Enabled(true), c.Enabled(false), tc.recursive, tc.fwd)
			}
		})
	}
	// Unknown keys are rejected with their line.
	var c Config
	if err := yaml.Unmarshal([]byte("validate: true\nvalidation: true\n"), &c); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown key: %v", err)
	}
	// Defaults when absent.
	d := DefaultConfig()
	if d.BogusTTL != DefaultBogusTTL || d.NSEC3MaxIterations != DefaultNSEC3MaxIterations || !d.allowSHA1() {
		t.Fatalf("defaults %+v", d)
	}
}

// TestAnchors: the root anchors are built in; a file's root anchors
// replace them and its other anchors are added.
func TestAnchors(t *testing.T) {
	a, err := anchors("")
	if err != nil {
		t.Fatal(err)
	}
	var tags []uint16
	for _, ds := range a["."].ds {
		tags = append(tags, ds.KeyTag)
	}
	if len(tags) != 2 || tags[0] != 20326 || tags[1] != 38696 {
		t.Fatalf("built-in root anchors %v, want 20326 and 38696", tags)
	}
	f := writeAnchor(t, "example. IN DNSKEY 257 3 13 zIRGmJo19GnZlSkx9BuJZpRrVnO4/ljNYerGo1qOv68V0XyAy1xDQqHzFUFyJs+0ILT+4zC3byFwE0tt4C7FJA==")
	a, err = anchors(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(a["."].ds) != 2 || len(a["example."].ds) != 1 {
		t.Fatalf("file anchors: %v", a)
	}
}
