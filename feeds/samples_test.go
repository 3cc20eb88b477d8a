package feeds

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// parseFile runs a parser over a shared data file.
func parseFile(t *testing.T, parse ParseFunc, name string) parsed {
	t.Helper()
	f, err := os.Open(dataFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p parsed
	p.stats, p.err = parse(f,
		func(e Entry) { p.entries = append(p.entries, e) },
		func(e LineError) { p.rejects = append(p.rejects, e) })
	if p.err != nil {
		t.Fatalf("%s: %v", name, p.err)
	}
	return p
}

func TestSampleHosts(t *testing.T) {
	p := parseFile(t, ParseHosts, "samples/phishing.hosts")
	got := slices.Compact(slices.Sorted(slices.Values(p.names())))
	want := readLines(t, dataFile(t, "samples/phishing.hosts.expected.txt"))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		missing, extra := diff(want, got), diff(got, want)
		t.Errorf("got %d names, want %d; missing %q; extra %q", len(got), len(want), missing, extra)
	}
	if p.stats.Skipped != 8 { // the localhost block
		t.Errorf("Skipped = %d, want 8", p.stats.Skipped)
	}

	// Every listed invalid line is rejected, with a reason, on its own line.
	byLine := map[int][]LineError{}
	for _, r := range p.rejects {
		byLine[r.Line] = append(byLine[r.Line], r)
	}
	lines := strings.Split(string(testfile.Read(t, dataFile(t, "samples/phishing.hosts"))), "\n")
	for _, inv := range readLines(t, dataFile(t, "samples/phishing.hosts.invalid.txt")) {
		n := slices.IndexFunc(lines, func(l string) bool { return strings.TrimRight(l, "\r") == inv })
		if n < 0 {
			t.Errorf("invalid line %q not found in phishing.hosts", inv)
			continue
		}
		rs := byLine[n+1]
		if len(rs) == 0 || rs[0].Reason == "" {
			t.Errorf("line %d %q: not rejected", n+1, inv)
			continue
		}
		t.Logf("line %d %q: %s", n+1, inv, rs[0].Reason)
	}
	if len(p.rejects) != 8 {
		t.Errorf("%d rejects, want 8: %v", len(p.rejects), p.rejects)
	}
}

func TestRealDomainLists(t *testing.T) {
	tests := []struct {
		file     string
		entries  int
		rejected map[string]int
	}{
		{"phishing_domains.txt", 11071, nil},
		{"phishing_allowlist.txt", 1137, nil},
		{"urlhaus_domains.txt", 601, nil},
		{"tlds.txt", 0, map[string]int{ReasonSingleLabel: 1438}},
		{"phishing_ips.txt", 0, map[string]int{ReasonIPAddress: 5}},
		{"urlhaus_ips.txt", 0, map[string]int{ReasonIPAddress: 2307}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := parseFile(t, ParseDomains, tt.file)
			if len(p.entries) != tt.entries {
				t.Errorf("%d entries, want %d", len(p.entries), tt.entries)
			}
			got := map[string]int{}
			for _, r := range p.rejects {
				got[r.Reason]++
			}
			if len(got) != len(tt.rejected) {
				t.Errorf("rejected %v, want %v (first: %v)", got, tt.rejected, first(p.rejects))
			}
			for k, v := range tt.rejected {
				if got[k] != v {
					t.Errorf("rejected[%q] = %d, want %d", k, got[k], v)
				}
			}
			// The data files are canonical already: parsing must not change names.
			want := readLines(t, dataFile(t, tt.file))
			for i, e := range p.entries {
				if e.Name != want[i] {
					t.Fatalf("entry %d = %q, want %q", i, e.Name, want[i])
				}
			}
		})
	}
}

// TestDetectRealFiles checks auto detection on every shared file it applies to.
func TestDetectRealFiles(t *testing.T) {
	tests := []struct{ file, want string }{
		{"samples/phishing.hosts", FormatHosts},
		{"phishing_domains.txt", FormatDomains},
		{"phishing_ips.txt", FormatDomains},
		{"urlhaus_domains.txt", FormatDomains},
		{"samples/phishing.adblock.txt", FormatAdblock},
		{"samples/phishing.rpz.zone", FormatRPZ},
	}
	for _, tt := range tests {
		b := testfile.Read(t, dataFile(t, tt.file))
		if got := DetectFormat(b[:min(len(b), MaxLineLen)]); got != tt.want {
			t.Errorf("%s: DetectFormat = %q, want %q", tt.file, got, tt.want)
		}
	}
}

// diff returns the elements of sorted a missing from sorted b.
func diff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			out = append(out, s)
		}
	}
	return out
}

func first(rs []LineError) any {
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}
