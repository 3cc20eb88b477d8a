package need

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFind: a command in PATH is found there; a name that exists nowhere is
// an error, not a path; Tool returns what find found.
func TestFind(t *testing.T) {
	bin := fakeTools(t, "bulwark-need-test-tool")
	t.Setenv("PATH", bin)
	for _, tc := range []struct {
		name  string
		want  string
		found bool
	}{
		{"bulwark-need-test-tool", filepath.Join(bin, "bulwark-need-test-tool"), true},
		{"bulwark-no-such-tool", "", false},
	} {
		p, err := find(tc.name)
		if (err == nil) != tc.found || p != tc.want {
			t.Errorf("find(%q) = %q, %v; want %q, found %v", tc.name, p, err, tc.want, tc.found)
		}
		if tc.found {
			if got := Tool(t, tc.name, "none"); got != tc.want {
				t.Errorf("Tool(%q) = %q, want %q", tc.name, got, tc.want)
			}
		}
	}
}

// fakeTools makes a directory of executable scripts with the given names.
func fakeTools(t *testing.T, names ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}
