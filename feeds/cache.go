package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/internal/atomicfile"
)

// diskCache keeps the last good copy of each remote list, so that a
// restart with the network down serves what was served before. Per list
// it holds NAME.list (the body exactly as downloaded, gzip or not) and
// NAME.json (cacheMeta). Both are written to a temporary file, synced and
// renamed, so a crash leaves the old copy or the new one, never half of
// one. The body is renamed first: a crash between the two renames leaves
// old validators with the new body, which only costs one full download.
// TAXII and MISP feed sources add NAME.state.json, their poll cursor
// (intelstate.go).
type diskCache struct {
	dir string
}

// cacheMeta describes a cached body.
type cacheMeta struct {
	// SourceHash is the SHA-256 of the configured source, so a cache is
	// not reused after the list's URL changes, without storing a URL that
	// may hold an API key.
	SourceHash string `json:"source_sha256"`
	Validators
	// Fetched is when the body was downloaded; Checked is the last time
	// the source confirmed it (a 200 or a 304).
	Fetched time.Time `json:"fetched"`
	Checked time.Time `json:"checked"`
	Bytes   int64     `json:"bytes"`
}

const (
	cacheBodyExt = ".list"
	cacheMetaExt = ".json"
	cacheTempTag = ".tmp-"
)

// errOtherSource says the cache holds a copy of the list's previous source.
var errOtherSource = errors.New("the cached copy is of another source (the list's source changed)")

func sourceHash(source string) string { return bodySum([]byte(source)) }

// bodySum is the SHA-256 of b, in hex.
func bodySum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// openCache creates dir if needed and removes temporary files a crash left.
func openCache(dir string) (*diskCache, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("feeds.cache_dir: %w", err)
	}
	c := &diskCache{dir: dir}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("feeds.cache_dir: %w", err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), cacheTempTag) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return c, nil
}

// base is the file name stem of a list: its name, path-escaped. Names are
// validated (checkListName), but a stem that would still leave dir (".",
// "..") is replaced by its hash rather than trusted.
func (c *diskCache) base(list string) string {
	stem := url.PathEscape(list)
	if !filepath.IsLocal(stem) || stem == "." || strings.ContainsAny(stem, `/\`) {
		stem = "list-" + sourceHash(list)[:16]
	}
	return filepath.Join(c.dir, stem)
}

// open returns the cached body of list and its metadata, if the cache
// holds a copy of source. A missing or unreadable meta file still yields
// the body (with no validators, dated by the body's mtime).
func (c *diskCache) open(list, source string) (*os.File, cacheMeta, error) {
	var m cacheMeta
	b, err := os.ReadFile(c.base(list) + cacheMetaExt)
	switch {
	case err == nil:
		if json.Unmarshal(b, &m) != nil {
			m = cacheMeta{}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, m, err
	}
	if m.SourceHash != "" && m.SourceHash != sourceHash(source) {
		return nil, m, errOtherSource
	}
	f, err := os.Open(c.base(list) + cacheBodyExt)
	if err != nil {
		return nil, m, err
	}
	if m.SourceHash == "" { // meta lost: trust the body, not its validators
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, m, err
		}
		m = cacheMeta{Fetched: fi.ModTime(), Checked: fi.ModTime(), Bytes: fi.Size()}
	}
	return f, m, nil
}

// begin opens a temporary file for a new body of list.
func (c *diskCache) begin(list string) (*os.File, error) {
	return os.CreateTemp(c.dir, filepath.Base(c.base(list))+cacheBodyExt+cacheTempTag+"*")
}

// abort discards a temporary body.
func (c *diskCache) abort(tmp *os.File) {
	tmp.Close()
	_ = os.Remove(tmp.Name())
}

// commit makes tmp the cached body of list and records m.
func (c *diskCache) commit(tmp *os.File, list string, m cacheMeta) error {
	if err := atomicfile.Finish(tmp, c.base(list)+cacheBodyExt, tmp.Sync()); err != nil {
		return err
	}
	return c.writeMeta(list, m)
}

// writeMeta replaces list's metadata atomically.
func (c *diskCache) writeMeta(list string, m cacheMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return c.writeFile(list, cacheMetaExt, append(b, '\n'))
}

// writeFile replaces list's file with extension ext by data atomically
// (temporary file, sync, rename, directory sync).
func (c *diskCache) writeFile(list, ext string, data []byte) error {
	tmp, err := os.CreateTemp(c.dir, filepath.Base(c.base(list))+ext+cacheTempTag+"*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if err := atomicfile.Finish(tmp, c.base(list)+ext, err); err != nil {
		return err
	}
	c.syncDir()
	return nil
}

// syncDir makes the renames durable; failure only weakens crash safety.
func (c *diskCache) syncDir() {
	if d, err := os.Open(c.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
