// Package realdata opens the shared real-world lists (phishing, tracker
// and disposable-mail domains, feed samples; see shared/data/README.md)
// for tests. They live beside the repository, not in it: a test that
// needs one is skipped where they are not checked out.
package realdata

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir is the shared data as reached from a package directory one level
// below the repository root (blocklist, feeds), where go test runs.
const Dir = "../../shared/data"

// Path returns the path of the shared data file name, skipping the test
// if it is not there.
func Path(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	return p
}

// Lines returns the non-empty lines of the shared data file name,
// skipping the test if it is not there.
func Lines(t testing.TB, name string) []string {
	t.Helper()
	return ReadLines(t, Path(t, name))
}

// ReadLines returns the non-empty lines of the file at path, without
// line ends (LF or CRLF); the test fails if it cannot be read.
func ReadLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
