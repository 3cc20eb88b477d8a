package names

import (
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

func TestDomainsAreValidAndDeterministic(t *testing.T) {
	a, b := New(7), New(7)
	sub, hyphen := 0, 0
	const n = 20000
	for range n {
		d := a.Domain()
		if e := b.Domain(); d != e {
			t.Fatalf("same seed, different names: %q %q", d, e)
		}
		c, err := blocklist.CanonicalName(d)
		if err != nil || c != d {
			t.Fatalf("%q is not a canonical name: %v", d, err)
		}
		labels := strings.Split(d, ".")
		if len(labels) > 3 || (len(labels) == 3 && !strings.HasPrefix(labels[1]+"."+labels[2], "co.") && !strings.HasPrefix(labels[1]+"."+labels[2], "com.")) {
			sub++
		}
		if strings.Contains(d, "-") {
			hyphen++
		}
	}
	// 25% one subdomain label + 7% two (a few two-label TLDs blur the count).
	if f := float64(sub) / n; f < 0.25 || f > 0.40 {
		t.Errorf("subdomain share %.2f, want about 0.32", f)
	}
	if f := float64(hyphen) / n; f < 0.05 || f > 0.20 {
		t.Errorf("hyphen share %.2f, want about 0.1", f)
	}
}

func TestUniqueIsUniqueAndDeterministic(t *testing.T) {
	a, b := Unique(5000, 3), Unique(5000, 3)
	seen := map[string]bool{}
	for i, d := range a {
		if b[i] != d {
			t.Fatalf("same seed, different names at %d", i)
		}
		if seen[d] {
			t.Fatalf("%q twice", d)
		}
		seen[d] = true
	}
}
