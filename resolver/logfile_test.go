package resolver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func writeLine(t *testing.T, w *logs.LogFile, s string) {
	t.Helper()
	if _, err := w.Write([]byte(s + "\n")); err != nil {
		t.Fatalf("write %s: %v", s, err)
	}
}

// TestLogFileReopenAfterRename is logrotate's create mode: rename the file,
// signal, carry on. Lines written before the reopen stay in the renamed
// file, later lines go to a new file at the configured path.
func TestLogFileReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bulwark.log")
	lf := openLogFile(t, path)
	defer lf.Close()
	writeLine(t, lf, "1")
	writeLine(t, lf, "2")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLine(t, lf, "3") // between rotation and SIGHUP: still the old file
	if err := lf.Reopen(); err != nil {
		t.Fatal(err)
	}
	writeLine(t, lf, "4")
	writeLine(t, lf, "5")

	if got := readLines(t, path+".1"); strings.Join(got, ",") != "1,2,3" {
		t.Errorf("rotated file has %v, want 1,2,3", got)
	}
	if got := readLines(t, path); strings.Join(got, ",") != "4,5" {
		t.Errorf("new file has %v, want 4,5", got)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&0o007 != 0 {
		t.Errorf("new log file is readable by others: %v", perm)
	}
}

// TestLogFileReopenFails keeps writing to the old file when the path
// cannot be opened, and says why.
func TestLogFileReopenFails(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	lf := openLogFile(t, filepath.Join(sub, "q.log"))
	defer lf.Close()
	writeLine(t, lf, "1")
	// The whole directory moves away: the configured path cannot be created.
	if err := os.Rename(sub, sub+".old"); err != nil {
		t.Fatal(err)
	}
	err := lf.Reopen()
	if err == nil || !strings.Contains(err.Error(), "q.log") {
		t.Fatalf("Reopen = %v, want an error naming the file", err)
	}
	writeLine(t, lf, "2")
	if got := readLines(t, filepath.Join(sub+".old", "q.log")); strings.Join(got, ",") != "1,2" {
		t.Errorf("old file has %v, want 1,2 (nothing lost)", got)
	}
}

func TestLogFileClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lf := openLogFile(t, path)
	if err := lf.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := lf.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	if err := lf.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reopen after Close = %v, want os.ErrClosed", err)
	}
	if err := lf.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenLogDest(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	for _, tc := range []struct {
		dest    string
		want    string // "nil", "stdout", "stderr", "file"
		wantErr string
	}{
		{"off", "nil", ""},
		{"stdout", "stdout", ""},
		{"stderr", "stderr", ""},
		{filepath.Join(dir, "a.log"), "file", ""},
		{filepath.Join(dir, "missing", "a.log"), "", "no such file or directory"},
	} {
		t.Run(tc.dest, func(t *testing.T) {
			w, closeFn, err := logs.OpenLogDest(tc.dest, &stdout, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "a.log") {
					t.Fatalf("err = %v, want %q naming the file", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			var got string
			switch w := w.(type) {
			case nil:
				got = "nil"
			case *bytes.Buffer:
				got = map[*bytes.Buffer]string{&stdout: "stdout", &stderr: "stderr"}[w]
			case *logs.LogFile:
				got = "file"
				writeLine(t, w, "where")
				if lines := readLines(t, tc.dest); len(lines) != 1 || lines[0] != "where" {
					t.Errorf("%s holds %q, want the line written", tc.dest, lines)
				}
			}
			if got != tc.want {
				t.Errorf("got %s (%T), want %s", got, w, tc.want)
			}
		})
	}
}

// TestLogsReopen rotates the block log and the query log while records
// flow through their asynchronous writers: every record ends up in exactly
// one of the two files, as one whole JSON line.
func TestLogsReopen(t *testing.T) {
	const n = 500
	for _, tc := range []struct {
		name string
		// open starts the log on w: log writes record i.
		open func(w io.Writer) (log func(i int), reopen func() error, close func())
	}{
		{"block log", func(w io.Writer) (func(int), func() error, func()) {
			bl := logs.NewBlockLog(w, nil, nil)
			return func(i int) {
				bl.Log(logs.BlockRecord{QName: fmt.Sprintf("q%d.example", i), Decision: query.Decision{Table: &blocklist.Table{}}})
			}, bl.Reopen, bl.Close
		}},
		{"query log", func(w io.Writer) (func(int), func() error, func()) {
			ql := logs.NewQueryLog(w, 1, nil, nil)
			return func(i int) {
				ql.Observe(query.Event{Client: netip.MustParseAddrPort("10.0.0.1:53"), QName: fmt.Sprintf("q%d.example.", i), QType: dns.TypeA, Answers: i})
			}, ql.Reopen, ql.Close
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "records.log")
			lf := openLogFile(t, path)
			defer lf.Close()
			log, reopen, closeLog := tc.open(lf)
			for i := 0; i < n; i++ {
				log(i)
				if i == n/2 {
					if err := renameAndReopen(path, reopen); err != nil {
						t.Fatal(err)
					}
				}
			}
			closeLog()
			old, cur := readLines(t, path+".1"), readLines(t, path)
			if len(cur) == 0 {
				t.Error("nothing written to the reopened file")
			}
			seen := map[string]bool{}
			for _, line := range append(old, cur...) {
				if !json.Valid([]byte(line)) {
					t.Errorf("not one whole JSON line: %s", line)
				}
				if seen[line] {
					t.Errorf("line written twice: %s", line)
				}
				seen[line] = true
			}
			if len(seen) != n {
				t.Errorf("%d distinct lines across both files, want %d", len(seen), n)
			}
		})
	}
}

// renameAndReopen is what logrotate (create mode) and the SIGHUP do.
func renameAndReopen(path string, reopen func() error) error {
	if err := os.Rename(path, path+".1"); err != nil {
		return err
	}
	return reopen()
}

// openLogFile opens the log file at path, failing the test if it cannot.
func openLogFile(t *testing.T, path string) *logs.LogFile {
	t.Helper()
	lf, err := logs.OpenLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return lf
}
