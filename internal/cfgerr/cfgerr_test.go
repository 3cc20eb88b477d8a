package cfgerr

import (
	"errors"
	"fmt"
	"slices"
	"testing"
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
