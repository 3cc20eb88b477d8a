package errlist

import (
	"errors"
	"testing"
)

func TestFormat(t *testing.T) {
	a, b := errors.New("timeout"), errors.New("SERVFAIL")
	for _, tc := range []struct {
		reason string
		errs   []error
		want   string
	}{
		{"all servers failed", nil, "all servers failed"},
		{"all servers failed", []error{a}, "all servers failed: timeout"},
		{"all servers failed", []error{a, b}, "all servers failed: timeout; SERVFAIL"},
		{"", []error{b}, ": SERVFAIL"},
	} {
		if got := Format(tc.reason, tc.errs); got != tc.want {
			t.Errorf("Format(%q, %v) = %q, want %q", tc.reason, tc.errs, got, tc.want)
		}
	}
}
