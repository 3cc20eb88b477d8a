// Package secretref reads values that name secrets rather than hold them
// (HTTP headers of feeds and log sinks): "${NAME}" anywhere
// in the value is replaced by the environment variable NAME, and a whole
// value "file:PATH" by the file's contents (without the final newline), so
// that an API key lives in the service's environment or a mounted secret,
// not in the config file. Callers resolve values at each use (a rotated
// secret is picked up) and never log them.
package secretref

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Check checks a value's syntax without reading anything.
func Check(v string) error {
	if p, ok := strings.CutPrefix(v, "file:"); ok {
		if p == "" {
			return errors.New(`"file:" needs a path`)
		}
		return nil
	}
	_, err := expandEnv(v, func(string) (string, bool) { return "x", true })
	return err
}

// Resolve returns the value to use; baseDir resolves relative file
// paths. Errors name the variable or file, never the value.
func Resolve(v, baseDir string) (string, error) {
	if p, ok := strings.CutPrefix(v, "file:"); ok {
		if !filepath.IsAbs(p) && baseDir != "" {
			p = filepath.Join(baseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("reading the value from file: %w", bareErr(err))
		}
		s := strings.TrimRight(string(b), "\r\n")
		if strings.ContainsAny(s, "\r\n\x00") {
			return "", fmt.Errorf("the file %s holds more than one line", p)
		}
		return s, nil
	}
	return expandEnv(v, os.LookupEnv)
}

// expandEnv replaces each ${NAME}; a "$" not followed by "{" is literal.
// An unset variable is an error rather than an empty credential.
func expandEnv(v string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			return b.String(), nil
		}
		b.WriteString(v[:i])
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			return "", errors.New(`"${" without a closing "}"`)
		}
		name := v[i+2 : i+j]
		if !envName(name) {
			return "", fmt.Errorf("${%s} is not a valid environment variable name", name)
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			return "", fmt.Errorf("environment variable %s holds a line break", name)
		}
		b.WriteString(val)
		v = v[i+j+1:]
	}
}

func envName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// bareErr drops an *fs.PathError's repetition of the path, which the
// caller names already.
func bareErr(err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
