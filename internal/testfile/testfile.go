// Package testfile writes the files a test hands to the code under test
// (lists, configs, keys), failing the test when it cannot, so that each
// package's tests do not carry their own copy of the same few lines.
package testfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Write creates dir/name, and the directories on the way, holding body
// (mode 0644), and returns its path.
func Write(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	Replace(t, p, body)
	return p
}

// Replace writes body over the file at path (mode 0644): a file changed
// under a running test.
func Replace(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Tree writes files (name -> body, names may hold directories) into a new
// temporary directory, removed when the test ends, and returns it.
func Tree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		Write(t, dir, name, body)
	}
	return dir
}

// Read returns the content of the file at path, failing the test when it
// cannot be read.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
