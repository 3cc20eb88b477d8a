package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestFinish: dst gets the new content only when everything succeeded,
// keeps the old one otherwise, and the temporary file never stays.
func TestFinish(t *testing.T) {
	errWrite := errors.New("disk full")
	tests := []struct {
		name     string
		writeErr error
		dst      func(dir string) string
		wantErr  bool
		want     string // dst's content afterwards; "" for absent
	}{
		{name: "replaces", dst: func(dir string) string { return filepath.Join(dir, "list.txt") }, want: "new\n"},
		{name: "write error keeps the old file", writeErr: errWrite,
			dst: func(dir string) string { return filepath.Join(dir, "list.txt") }, wantErr: true, want: "old\n"},
		{name: "rename into a missing directory fails",
			dst: func(dir string) string { return filepath.Join(dir, "missing", "list.txt") }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "list.txt"), []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			tmp, err := os.CreateTemp(dir, ".tmp-*")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tmp.WriteString("new\n"); err != nil {
				t.Fatal(err)
			}
			dst := tt.dst(dir)
			err = Finish(tmp, dst, tt.writeErr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Finish = %v, want error %v", err, tt.wantErr)
			}
			if tt.writeErr != nil && !errors.Is(err, tt.writeErr) {
				t.Errorf("Finish = %v, want the write's error", err)
			}
			if _, serr := os.Stat(tmp.Name()); !os.IsNotExist(serr) {
				t.Errorf("temporary file %s left behind (%v)", tmp.Name(), serr)
			}
			got, rerr := os.ReadFile(dst)
			switch {
			case tt.want == "" && rerr == nil:
				t.Errorf("%s exists with %q, want absent", dst, got)
			case tt.want != "" && string(got) != tt.want:
				t.Errorf("%s = %q (%v), want %q", dst, got, rerr, tt.want)
			}
		})
	}
}
