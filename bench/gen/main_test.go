package main

import "testing"

func TestCovered(t *testing.T) {
	set := map[string]struct{}{"evil.com": {}}
	for d, want := range map[string]bool{"evil.com": true, "a.b.evil.com": true, "notevil.com": false, "com": false} {
		if got := covered(d, set); got != want {
			t.Errorf("covered(%q) = %v, want %v", d, got, want)
		}
	}
}
