// Package cfgerr is the error type every config section's Validate returns,
// so that the root loader can point operators at the YAML line of each
// mistake and report all of them at once.
package cfgerr

import (
	"errors"
	"fmt"
)

// Error is one invalid value, located by its YAML path.
type Error struct {
	// Path is the key path in the config, e.g. "blocklists[2].action".
	Path string
	// Msg says what is wrong and, where it helps, what is accepted.
	Msg string
}

// Error implements error.
func (e *Error) Error() string { return e.Path + ": " + e.Msg }

// New returns an *Error for path with a formatted message.
func New(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Join joins a key onto a path: Join("upstream", "timeout") is
// "upstream.timeout"; Join("", "listen") is "listen".
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a sequence index to a path: Index("blocklists", 2) is
// "blocklists[2]".
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Path returns the path of err if it is (or wraps) an *Error.
func Path(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Path, true
	}
	return "", false
}

// Paths returns the path of each of errs, in order; "" for an error that
// is not an *Error (a Validate that returns one has a bug the caller can
// see in the list).
func Paths(errs []error) []string {
	var out []string
	for _, err := range errs {
		p, _ := Path(err)
		out = append(out, p)
	}
	return out
}

// AtLeast appends to errs the error of key (under path) when its value v is
// below lo, so that every section words a lower bound alike: "must not be
// negative" for lo 0, else "must be at least lo". It returns errs.
func AtLeast[T ~int | ~int64 | ~float64](errs []error, path, key string, v, lo T) []error {
	switch {
	case v >= lo:
		return errs
	case lo == 0:
		return append(errs, New(Join(path, key), "must not be negative"))
	default:
		return append(errs, New(Join(path, key), "must be at least %v", lo))
	}
}

// Firsts remembers where each key of a config section was first given
// (its path), so that a repeat is reported with the earlier place: an
// operator fixing a duplicate needs to see both.
type Firsts[K comparable] map[K]string

// Claim records path as where k is given and returns "", true; when k was
// given before, it records nothing and returns the first path and false.
func (f Firsts[K]) Claim(k K, path string) (first string, ok bool) {
	if first, dup := f[k]; dup {
		return first, false
	}
	f[k] = path
	return "", true
}
