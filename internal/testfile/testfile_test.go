package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTreeWritesEveryFile(t *testing.T) {
	files := map[string]string{
		"bulwark.yaml":        "listen: {}\n",
		"lists/phishing.txt":  "evil.example\n",
		"lists/deep/zone.rpz": "",
	}
	dir := Tree(t, files)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
}

func TestReplaceOverwrites(t *testing.T) {
	for _, tt := range []struct{ first, then string }{
		{"a.example\nb.example\n", "a.example\n"},
		{"", "new.example\n"},
		{"old.example\n", ""},
	} {
		p := Write(t, t.TempDir(), "l.txt", tt.first)
		Replace(t, p, tt.then)
		if got, err := os.ReadFile(p); err != nil || string(got) != tt.then {
			t.Errorf("after Replace: %q %v, want %q", got, err, tt.then)
		}
	}
}
