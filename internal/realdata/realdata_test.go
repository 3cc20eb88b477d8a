package realdata

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadLines(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"LF", "a.example\nb.example\n", []string{"a.example", "b.example"}},
		{"CRLF", "a.example\r\nb.example\r\n", []string{"a.example", "b.example"}},
		{"blank lines dropped", "\na.example\n\n\r\nb.example", []string{"a.example", "b.example"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "list.txt")
		if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := ReadLines(t, p); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ReadLines = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestPathSkipsWithoutData: a missing file skips the test rather than
// failing it (the data is not part of the repository).
func TestPathSkipsWithoutData(t *testing.T) {
	skipped := false
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Path(t, "no-such-file.txt")
	})
	if !skipped {
		t.Error("Path of a missing file did not skip the test")
	}
}
