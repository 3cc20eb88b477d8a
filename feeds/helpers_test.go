package feeds

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/realdata"
	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// dataDir is the shared real-world data, reached from the package dir.
const dataDir = realdata.Dir

// dataFile returns the path of a shared data file, skipping the test if the
// data is not checked out next to the repo.
func dataFile(t testing.TB, name string) string {
	t.Helper()
	return realdata.Path(t, name)
}

// readLines returns the non-empty lines of a data file.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	return realdata.ReadLines(t, path)
}

// writeFile creates dir/name (and its directory) with body and returns
// its path.
func writeFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	return testfile.Write(t, dir, name, body)
}

// write replaces the file at path with body: a list changed under a
// running test.
func write(t testing.TB, path, body string) {
	t.Helper()
	testfile.Replace(t, path, body)
}

// parsed is everything one parser run produced.
type parsed struct {
	entries []Entry
	rejects []LineError
	stats   Stats
	err     error
}

func run(parse ParseFunc, input string) parsed {
	var p parsed
	p.stats, p.err = parse(strings.NewReader(input),
		func(e Entry) { p.entries = append(p.entries, e) },
		func(e LineError) { p.rejects = append(p.rejects, e) })
	return p
}

func (p parsed) names() []string {
	var out []string
	for _, e := range p.entries {
		out = append(out, e.Name)
	}
	return out
}

func (p parsed) reasons() []string {
	var out []string
	for _, r := range p.rejects {
		out = append(out, r.Reason)
	}
	return out
}

// parseCase is one table row for a parser: the entries it should emit (as
// describe prints them) and the reasons it should skip or reject (as
// skipsAndRejects prints them).
type parseCase struct {
	name    string
	input   string
	want    []string
	rejects []string
}

// runParseCases runs each case through parse as a subtest.
func runParseCases(t *testing.T, parse ParseFunc, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := run(parse, tt.input)
			if p.err != nil {
				t.Fatal(p.err)
			}
			if got := describe(p.entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries = %q, want %q", got, tt.want)
			}
			if got := skipsAndRejects(p.rejects); !slices.Equal(got, tt.rejects) {
				t.Errorf("rejects = %q, want %q (%v)", got, tt.rejects, p.rejects)
			}
		})
	}
}
