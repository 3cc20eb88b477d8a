package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/config"
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
