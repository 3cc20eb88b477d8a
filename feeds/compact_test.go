package feeds

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// compactNames keeps every name and puts them all in one allocation.
func TestCompactNames(t *testing.T) {
	want := []string{"evil.example", "", "a.b.c.example", "x.test"}
	rules := make([]blocklist.Rule, len(want))
	for i, n := range want {
		rules[i].Name = strings.Clone(n)
	}
	compactNames(rules)
	base := unsafe.StringData(rules[0].Name)
	off := 0
	for i, r := range rules {
		if r.Name != want[i] {
			t.Fatalf("rule %d: %q, want %q", i, r.Name, want[i])
		}
		if len(r.Name) > 0 && unsafe.StringData(r.Name) != (*byte)(unsafe.Add(unsafe.Pointer(base), off)) {
			t.Fatalf("rule %d is not in the shared allocation", i)
		}
		off += len(r.Name)
	}
}
