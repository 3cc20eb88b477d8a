package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Source is where a list's bytes come from: a local file, a list bundled
// in the binary, or an HTTP(S) URL.
type Source interface {
	// Fetch starts reading the list. prev holds the validators of the copy
	// in hand; a source that can tell the list has not changed since
	// returns a Response with NotModified set and no Body.
	Fetch(ctx context.Context, prev Validators) (*Response, error)
	// String locates the source for operators, e.g. "file:/etc/bulwark/x.txt";
	// URL query values and passwords are redacted.
	String() string
	// Remote reports whether the source is on the network (and so worth a
	// disk cache).
	Remote() bool
}

// Validators identify one version of a list, so that an unchanged list is
// not downloaded or parsed again.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Stamp identifies a local file's version (size and modification time).
	Stamp string `json:"stamp,omitempty"`
}

// Response is one fetch.
type Response struct {
	// Body is the list, possibly gzip-compressed; nil when NotModified.
	// The caller closes it.
	Body        io.ReadCloser
	NotModified bool
	// Validators identify the version being read.
	Validators Validators
}

// Source spec schemes accepted in the config's "source:" key.
const (
	schemeFile    = "file:"
	schemeBuiltin = "builtin:"
	schemeHTTP    = "http:"
	schemeHTTPS   = "https:"
)

// splitSource checks a "source:" value and returns its scheme and the rest.
// It knows nothing of the file system, so Validate can use it.
func splitSource(spec string) (scheme, rest string, err error) {
	const use = `use "file:PATH", "builtin:NAME", an http(s):// URL or "axfr://HOST[:PORT]/ZONE"`
	switch {
	case spec == "":
		return "", "", errors.New("must not be empty; " + use)
	case strings.HasPrefix(spec, schemeFile):
		scheme, rest = schemeFile, strings.TrimPrefix(spec, schemeFile)
		if rest == "" {
			return "", "", fmt.Errorf("%q has no path; use \"file:PATH\"", spec)
		}
	case strings.HasPrefix(spec, schemeBuiltin):
		scheme, rest = schemeBuiltin, strings.TrimPrefix(spec, schemeBuiltin)
		if !fs.ValidPath(rest) || rest == "." {
			return "", "", fmt.Errorf("%q is not a valid builtin list name (a slash-separated path without \"..\")", spec)
		}
	case strings.HasPrefix(spec, schemeAXFR+"//"):
		if _, err := parseXfrURL(spec); err != nil {
			return "", "", err
		}
		return schemeAXFR, spec, nil
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		u, err := url.Parse(spec)
		if err != nil {
			return "", "", fmt.Errorf("%s is not a valid URL: %v", redactURL(spec), errors.Unwrap(err))
		}
		if u.Host == "" {
			return "", "", fmt.Errorf("%s has no host", redactURL(spec))
		}
		if u.Fragment != "" {
			return "", "", fmt.Errorf("%s has a #fragment, which is never sent to the server", redactURL(spec))
		}
		return u.Scheme + ":", spec, nil
	default:
		return "", "", fmt.Errorf("%q has no known scheme; %s", spec, use)
	}
	return scheme, rest, nil
}

// redactURL hides what may be a credential in a feed URL: the password and
// every query value ("?key=REDACTED"). Logs, metrics and reports use it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?@"); i >= 0 {
			return raw[:i] + "?REDACTED"
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactSource is redactURL for URLs and the spec itself otherwise.
func redactSource(spec string) string {
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		return redactURL(spec)
	}
	return spec
}

// fileSource is a local file. Its validator is the file's size and
// modification time, so a periodic refresh of an unchanged file costs a
// stat.
type fileSource struct{ path string }

func (s fileSource) Fetch(_ context.Context, prev Validators) (*Response, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s, unwrapPath(err))
	}
	stamp := fileStamp(fi)
	if prev.Stamp != "" && prev.Stamp == stamp {
		return &Response{NotModified: true, Validators: Validators{Stamp: stamp}}, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s, unwrapPath(err))
	}
	return &Response{Body: f, Validators: Validators{Stamp: stamp}}, nil
}

func (s fileSource) String() string { return schemeFile + s.path }
func (s fileSource) Remote() bool   { return false }

// fsSource is a file in an fs.FS, e.g. lists embedded in the binary.
type fsSource struct {
	fsys fs.FS
	name string
}

func (s fsSource) Fetch(context.Context, Validators) (*Response, error) {
	if s.fsys == nil {
		return nil, fmt.Errorf("opening %s: this build has no builtin lists", s)
	}
	f, err := s.fsys.Open(s.name)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s, unwrapPath(err))
	}
	return &Response{Body: f}, nil
}

func (s fsSource) String() string { return schemeBuiltin + s.name }
func (s fsSource) Remote() bool   { return false }

// resolveFile resolves a relative "file:" path against baseDir.
func resolveFile(rest, baseDir string) string {
	p := filepath.FromSlash(rest)
	if !filepath.IsAbs(p) && baseDir != "" {
		p = filepath.Join(baseDir, p)
	}
	return filepath.Clean(p)
}

// ctxReader stops a long read when ctx is done (checked once per buffer
// fill, so it costs nothing per line).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// unwrapPath drops an *fs.PathError's repetition of the path, which the
// caller already names: "no such file or directory" rather than
// "open /x/y: no such file or directory".
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
