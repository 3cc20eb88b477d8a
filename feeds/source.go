package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Source is where a list's bytes come from. Local files and embedded lists
// exist now; HTTP sources (with conditional fetches and a last-good cache)
// implement the same interface later.
type Source interface {
	// Open starts reading the list. The caller closes the reader.
	Open(ctx context.Context) (io.ReadCloser, error)
	// String locates the source for operators, e.g. "file:/etc/bulwark/x.txt".
	String() string
}

// Source spec schemes accepted in the config's "source:" key.
const (
	schemeFile    = "file:"
	schemeBuiltin = "builtin:"
)

// splitSource checks a "source:" value and returns its scheme and the rest.
// It knows nothing of the file system, so Validate can use it.
func splitSource(spec string) (scheme, rest string, err error) {
	switch {
	case spec == "":
		return "", "", errors.New(`must not be empty; use "file:PATH" or "builtin:NAME"`)
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
	case strings.HasPrefix(spec, "http://"), strings.HasPrefix(spec, "https://"):
		return "", "", fmt.Errorf("%q: HTTP sources are not supported yet; use \"file:PATH\" or \"builtin:NAME\"", spec)
	default:
		return "", "", fmt.Errorf("%q has no known scheme; use \"file:PATH\" or \"builtin:NAME\"", spec)
	}
	return scheme, rest, nil
}

// fileSource is a local file.
type fileSource struct{ path string }

func (s fileSource) Open(context.Context) (io.ReadCloser, error) { return os.Open(s.path) }
func (s fileSource) String() string                              { return schemeFile + s.path }

// fsSource is a file in an fs.FS, e.g. lists embedded in the binary.
type fsSource struct {
	fsys fs.FS
	name string
}

func (s fsSource) Open(context.Context) (io.ReadCloser, error) {
	if s.fsys == nil {
		return nil, errors.New("this build has no builtin lists")
	}
	return s.fsys.Open(s.name)
}

func (s fsSource) String() string { return schemeBuiltin + s.name }

// source resolves a "source:" value: relative file paths against BaseDir,
// builtin names in Builtin.
func (l *Loader) source(spec string) (Source, error) {
	scheme, rest, err := splitSource(spec)
	if err != nil {
		return nil, err
	}
	if scheme == schemeBuiltin {
		return fsSource{fsys: l.Builtin, name: rest}, nil
	}
	p := filepath.FromSlash(rest)
	if !filepath.IsAbs(p) && l.BaseDir != "" {
		p = filepath.Join(l.BaseDir, p)
	}
	return fileSource{path: filepath.Clean(p)}, nil
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
