package need

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFind: a command in PATH is found there; a name that exists nowhere is
// an error, not a path.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "bulwark-need-test-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct {
		name  string
		want  string
		found bool
	}{
		{"bulwark-need-test-tool", tool, true},
		{"bulwark-no-such-tool", "", false},
	} {
		p, err := find(tc.name)
		if (err == nil) != tc.found || p != tc.want {
			t.Errorf("find(%q) = %q, %v; want %q, found %v", tc.name, p, err, tc.want, tc.found)
		}
	}
	if got := Tool(t, "bulwark-need-test-tool", "none"); got != tool {
		t.Errorf("Tool = %q, want %q", got, tool)
	}
}
