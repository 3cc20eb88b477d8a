package recursive

import (
	"testing"

	"github.com/miekg/dns"
)

// parentBySplit is the reference parent: dns.Split's second label.
func parentBySplit(name string) string {
	if name == "." {
		return name
	}
	idx := dns.Split(name)
	if len(idx) < 2 {
		return "."
	}
	return name[idx[1]:]
}

func TestParent(t *testing.T) {
	for name, want := range map[string]string{
		".":                ".",
		"com.":             ".",
		"example.com.":     "com.",
		"www.example.com.": "example.com.",
		`a\.b.example.`:    "example.", // an escaped dot is inside the label
		`a\\.b.example.`:   "b.example.",
		`\046.example.`:    "example.",
		"x":                ".", // not fully qualified: one label
		"x.y":              "y", // as dns.Split has it
		"":                 ".",
	} {
		if got, ref := parent(name), parentBySplit(name); got != want || ref != want {
			t.Errorf("parent(%q) = %q, dns.Split reference %q, want %q", name, got, ref, want)
		}
	}
}

// FuzzParent: parent agrees with the dns.Split reference on any string.
func FuzzParent(f *testing.F) {
	for _, s := range []string{".", "com.", "www.example.com.", `a\.b.c.`, `a\\.b.`, `\\\..x.`, "..", "a..", `\`, "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := parent(name), parentBySplit(name); got != want {
			t.Fatalf("parent(%q) = %q, dns.Split says %q", name, got, want)
		}
	})
}

func BenchmarkParent(b *testing.B) {
	const name = "www.example.test."
	benchVsBaseline(b, "NextLabel", func() error { _ = parent(name); return nil },
		"dns.Split", func() error { _ = parentBySplit(name); return nil })
}

func TestIsSubDomain(t *testing.T) {
	tests := []struct {
		parent, child string
		want          bool
	}{
		{".", "www.example.com.", true},
		{".", ".", true},
		{"com.", "com.", true},
		{"example.com.", "www.example.com.", true},
		{"EXAMPLE.com.", "www.example.COM.", true},
		{"example.com.", "com.", false},
		{"ample.com.", "www.example.com.", false}, // a suffix, not a label boundary
		{"b.example.", `a\.b.example.`, false},    // the dot is inside the label a.b
		{"b.example.", `a\\.b.example.`, true},    // an escaped backslash, then a real dot
		{"example.", `\046.example.`, true},
		{"example.com.", "", false},
	}
	for _, tt := range tests {
		if got, ref := isSubDomain(tt.parent, tt.child), dns.IsSubDomain(tt.parent, tt.child); got != tt.want || ref != tt.want {
			t.Errorf("isSubDomain(%q, %q) = %v, dns.IsSubDomain %v, want %v", tt.parent, tt.child, got, ref, tt.want)
		}
	}
}

// FuzzIsSubDomain: isSubDomain agrees with dns.IsSubDomain on any two
// fully qualified names (the only kind the resolver compares).
func FuzzIsSubDomain(f *testing.F) {
	for _, s := range [][2]string{{".", "a."}, {"com.", "example.com."}, {"b.example.", `a\.b.example.`}, {`\\.x.`, `a\\.x.`}, {"X.", "x."}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, parent, child string) {
		for _, n := range []string{parent, child} {
			if _, ok := dns.IsDomainName(n); !ok || !dns.IsFqdn(n) {
				return
			}
		}
		if got, want := isSubDomain(parent, child), dns.IsSubDomain(parent, child); got != want {
			t.Fatalf("isSubDomain(%q, %q) = %v, dns.IsSubDomain says %v", parent, child, got, want)
		}
	})
}

func BenchmarkIsSubDomain(b *testing.B) {
	const zone, name = "example.test.", "www.example.test."
	benchVsBaseline(b, "NextLabel", func() error { _ = isSubDomain(zone, name); return nil },
		"dns.IsSubDomain", func() error { _ = dns.IsSubDomain(zone, name); return nil })
}
