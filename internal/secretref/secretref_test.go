package secretref

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Setenv("BULWARK_TEST_TOKEN", "tok")
	t.Setenv("BULWARK_TEST_BAD", "a\nb")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "two"), []byte("a\nb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want, err string
	}{
		{"literal", "literal", ""},
		{"Bearer ${BULWARK_TEST_TOKEN}", "Bearer tok", ""},
		{"${BULWARK_TEST_TOKEN}-${BULWARK_TEST_TOKEN}", "tok-tok", ""},
		{"cost $5", "cost $5", ""},
		{"file:key", "from-file", ""},
		{"file:" + filepath.Join(dir, "key"), "from-file", ""},
		{"${BULWARK_TEST_UNSET}", "", "environment variable BULWARK_TEST_UNSET is not set"},
		{"${BULWARK_TEST_BAD}", "", "holds a line break"},
		{"${open", "", "without a closing"},
		{"${9x}", "", "not a valid environment variable name"},
		{"file:two", "", "more than one line"},
		{"file:missing", "", "no such file or directory"},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.in, dir)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Resolve(%q) error = %v, want %q", tt.in, err, tt.err)
		case err != nil && (strings.Contains(err.Error(), "tok") || strings.Contains(err.Error(), "a\nb")):
			t.Errorf("Resolve(%q) error shows the value: %v", tt.in, err)
		}
	}
}
