package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/cfgerr"
	"github.com/bulwark-dns/bulwark/resolver/config"
)

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "  0123456789abcdef0123\n")
	empty := write("empty", "\n")
	t.Setenv("BULWARK_TEST_TOKEN", "from-the-environment-0123")
	t.Setenv("BULWARK_TEST_EMPTY", "")

	ok := []struct {
		name  string
		admin string
		want  string
	}{
		{"none", "", ""},
		{"literal", "admin:\n  token: literal-token-0123456\n", "literal-token-0123456"},
		{"environment", "admin:\n  token: \"${BULWARK_TEST_TOKEN}\"\n", "from-the-environment-0123"},
		{"file", "admin:\n  token_file: " + good + "\n", "0123456789abcdef0123"},
	}
	for _, c := range ok {
		cfg, err := config.Parse([]byte(valid+c.admin), "t.yaml")
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if tok, err := cfg.Admin.ResolveToken(); err != nil || tok != c.want {
			t.Errorf("%s: token %q, %v; want %q", c.name, tok, err, c.want)
		}
	}

	bad := []struct {
		name  string
		admin string
		want  string
	}{
		{"short", "admin:\n  token: short\n", "at least 16"},
		{"both", "admin:\n  token: literal-token-0123456\n  token_file: " + good + "\n", "not both"},
		{"unset variable", "admin:\n  token: \"${BULWARK_TEST_UNSET_VARIABLE}\"\n", "BULWARK_TEST_UNSET_VARIABLE is not set"},
		{"empty variable", "admin:\n  token: \"${BULWARK_TEST_EMPTY}\"\n", "BULWARK_TEST_EMPTY is not set"},
		{"relative file", "admin:\n  token_file: secrets/token\n", "absolute"},
		{"missing file", "admin:\n  token_file: " + filepath.Join(dir, "nope") + "\n", "no such file"},
		{"empty file", "admin:\n  token_file: " + empty + "\n", "is empty"},
		{"white space", "admin:\n  token: \"with a space inside it\"\n", "white space"},
		{"unknown key", "admin:\n  password: x\n", "password"},
	}
	for _, c := range bad {
		_, err := config.Parse([]byte(valid+c.admin), "t.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
			continue
		}
		if c.name != "unknown key" && !strings.Contains(err.Error(), "t.yaml:9: admin.token") {
			t.Errorf("%s: error %q does not point at the admin section's line", c.name, err)
		}
	}
}

// TestAdminHosts: admin.hosts holds bare host names; AllowsHost accepts any
// IP address, localhost and those names, with or without a port, and
// nothing else (a DNS-rebinding page's own name).
func TestAdminHosts(t *testing.T) {
	bad := config.AdminConfig{Hosts: []string{"ok.example", "http://x.example", "x.example:9153", "a b", ""}}
	errs := bad.Validate("admin")
	var paths []string
	for _, e := range errs {
		paths = append(paths, e.(*cfgerr.Error).Path)
	}
	if want := []string{"admin.hosts[1]", "admin.hosts[2]", "admin.hosts[3]", "admin.hosts[4]"}; !slices.Equal(paths, want) {
		t.Errorf("errors at %v, want %v", paths, want)
	}
	c := config.AdminConfig{Hosts: []string{"Bulwark-1.example.net"}}
	for host, want := range map[string]bool{
		"":                           true,
		"127.0.0.1":                  true,
		"127.0.0.1:9153":             true,
		"[::1]:9153":                 true,
		"10.1.2.3:9153":              true,
		"localhost:9153":             true,
		"bulwark-1.example.net":      true,
		"BULWARK-1.EXAMPLE.NET.:80":  true,
		"bulwark-2.example.net":      false,
		"attacker.example:9153":      false,
		"127.0.0.1.attacker.example": false,
		"localhost.attacker.example": false,
	} {
		if got := c.AllowsHost(host); got != want {
			t.Errorf("AllowsHost(%q) = %v, want %v", host, got, want)
		}
	}
}
