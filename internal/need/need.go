// Package need finds the real third-party tools the tests drive (dig,
// kdig, named, unbound, dnsdist, ...). A missing tool skips the test on a
// developer's machine, saying which Debian package to install, and fails it
// in CI, where the Makefile's deps target must have installed it: a test
// that silently skips there proves nothing.
package need

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of the command name, looked up in PATH and then in
// /usr/sbin (where Debian puts daemons that a non-root PATH lacks); pkg is
// the Debian package that has it.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := find(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed: .ci/run (make deps) must install %s", name, pkg)
	}
	t.Skipf("%s not installed (apt-get install %s; make deps does)", name, pkg)
	return ""
}

func find(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	sbin := filepath.Join("/usr/sbin", name)
	if st, serr := os.Stat(sbin); serr == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return sbin, nil
	}
	return "", err
}
