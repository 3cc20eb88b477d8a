package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRPZTriggers: check counts an RPZ zone's rules by trigger, and
// says in forwarding mode that the name-server triggers cannot apply; in
// recursive mode it does not.
func TestCheckRPZTriggers(t *testing.T) {
	zone := "$ORIGIN rpz.example.\n@ SOA ns. admin. 1 2 3 4 5\nevil.example CNAME .\n" +
		"24.0.2.0.192.rpz-client-ip CNAME .\n32.1.2.0.192.rpz-ip CNAME .\nns.bad.example.rpz-nsdname CNAME .\n" +
		"32.9.9.9.9.rpz-nsip CNAME .\n32.8.8.8.8.rpz-nsip CNAME .\n"
	for _, tc := range []struct {
		mode string
		warn bool
	}{
		{"forward", true},
		{"recursive", false},
	} {
		cfg := "listen:\n  dns: [\"127.0.0.1:5300\"]\nupstream:\n  mode: " + tc.mode + "\n"
		if tc.mode == "forward" {
			cfg += "  servers: [\"127.0.0.1:5301\"]\n"
		}
		cfg += "blocklists:\n  - name: zone\n    source: \"file:zone.rpz\"\n    format: rpz\n"
		dir := writeFiles(t, map[string]string{"bulwark.yaml": cfg, "zone.rpz": zone})
		code, out, errs := runCmd(t, "check", "-config", filepath.Join(dir, "bulwark.yaml"))
		if code != 0 {
			t.Fatalf("%s: exit %d, stderr:\n%s", tc.mode, code, errs)
		}
		for _, want := range []string{"6 entries", "1 rpz-client-ip rules", "1 rpz-ip rules", "1 rpz-nsdname rules", "2 rpz-nsip rules"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.mode, want, out)
			}
		}
		warned := strings.Contains(out, "1 rpz-nsdname and 2 rpz-nsip rules cannot apply in forwarding mode")
		if warned != tc.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", tc.mode, warned, tc.warn, out)
		}
	}
}
