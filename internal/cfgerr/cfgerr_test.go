package cfgerr

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestPaths(t *testing.T) {
	tests := []struct {
		name string
		errs []error
		want []string
	}{
		{"none", nil, nil},
		{"in order", []error{New("a.b", "x"), New(Index("c", 1), "y")}, []string{"a.b", "c[1]"}},
		{"wrapped", []error{fmt.Errorf("load: %w", New("listen", "z"))}, []string{"listen"}},
		{"not an *Error", []error{New("a", "x"), errors.New("plain")}, []string{"a", ""}},
	}
	for _, tt := range tests {
		if got := Paths(tt.errs); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Paths = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestAtLeast checks the lower bound's one wording and that a value on or
// above it adds nothing.
func TestAtLeast(t *testing.T) {
	tests := []struct {
		name string
		errs []error
		want []string
	}{
		{"int above", AtLeast(nil, "s", "k", 3, 1), nil},
		{"int on the bound", AtLeast(nil, "s", "k", 1, 1), nil},
		{"int below", AtLeast(nil, "s", "k", 0, 1), []string{"s.k: must be at least 1"}},
		{"float negative", AtLeast(nil, "s", "rate", -0.5, 0), []string{"s.rate: must not be negative"}},
		{"duration negative", AtLeast(nil, "", "timeout", -time.Second, 0), []string{"timeout: must not be negative"}},
		{"duration zero", AtLeast(nil, "", "timeout", time.Duration(0), 0), nil},
		{"appends", AtLeast([]error{New("a", "x")}, "s", "k", -1, 0), []string{"a: x", "s.k: must not be negative"}},
	}
	for _, tt := range tests {
		var got []string
		for _, err := range tt.errs {
			got = append(got, err.Error())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestFirsts: the first claim of a key wins and is what every later claim
// is told; other keys are independent.
func TestFirsts(t *testing.T) {
	f := Firsts[string]{}
	for _, tc := range []struct {
		key, path string
		first     string
		ok        bool
	}{
		{"a", "x[0]", "", true},
		{"b", "x[1]", "", true},
		{"a", "x[2]", "x[0]", false},
		{"a", "x[3]", "x[0]", false},
	} {
		first, ok := f.Claim(tc.key, tc.path)
		if first != tc.first || ok != tc.ok {
			t.Errorf("Claim(%q, %q) = %q, %v; want %q, %v", tc.key, tc.path, first, ok, tc.first, tc.ok)
		}
	}
}
