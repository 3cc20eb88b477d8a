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
