package feeds

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/atomicfile"
)

// A snapshot is a list's compiled set kept beside its text in
// feeds.cache_dir (NAME.snap), so that a restart loads the set instead of
// parsing and building the list again: for a million names, tens of
// milliseconds instead of a second, and none of the build's memory. It is
// used only for the very text it was compiled from, under the very
// settings: its key holds the text's size, modification time and 64-bit
// xxHash (textSum), the list's source and configuration, and the Bulwark
// version (a parser may change between versions). Anything else — another key, a corrupt or
// truncated file — and the list is parsed from its text as if there were
// no snapshot; a snapshot is never the reason a list is served wrong or
// not at all.
//
// File layout: snapMagic | set length u64 LE | header length u32 LE |
// header JSON | CRC-32C u32 LE of everything before it | the set
// (blocklist.Set.WriteTo, which has its own checksums). The file must be
// exactly that long: a truncated or extended file is rejected before the
// set is read. It is written to a temporary file and
// renamed, without fsync: a torn snapshot fails its checksums and costs
// one parse.
const (
	snapMagic   = "BWFEED1\n"
	snapExt     = ".snap"
	snapFormat  = 2       // bump when the header or what it describes changes (2: text_xxh64 for text_sha256)
	maxSnapHead = 4 << 20 // a header is a report and a few address sets
	snapPreLen  = len(snapMagic) + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapKey is what a snapshot must match to be used.
type snapKey struct {
	Format  int    `json:"format"`
	Version string `json:"bulwark_version"`
	Source  string `json:"source_sha256"`
	Config  string `json:"config_sha256"`
	// Stamp is the text's size and modification time ("size@unixnano");
	// TextSum the xxHash64 of its bytes as stored (gzip or not), textSum.
	Stamp   string `json:"text_stamp"`
	TextSum string `json:"text_xxh64"`
}

// snapHeader is the copy minus its set.
type snapHeader struct {
	Key        snapKey        `json:"key"`
	Entries    int            `json:"entries"`
	List       uint16         `json:"list"`
	Category   uint16         `json:"category"`
	Addrs      [][]netip.Addr `json:"addrs,omitempty"`
	Report     Report         `json:"report"`
	Validators Validators     `json:"validators"`
	Fetched    time.Time      `json:"fetched"`
	Bytes      int64          `json:"bytes"`
}

// snapKeyOf is the key of sp's copy compiled by version from a text with
// stamp and sum (textSum).
func snapKeyOf(sp *feedSpec, version, stamp, sum string) snapKey {
	// Every setting of the list goes in: a parse depends on several (format,
	// action, allow, max_size), and one that does not only costs a parse.
	cfg, _ := json.Marshal(struct {
		Allow bool
		Cfg   ListConfig
	}{sp.allow, sp.cfg})
	c := sha256.Sum256(cfg)
	return snapKey{Format: snapFormat, Version: version, Source: sourceHash(sp.cfg.Source),
		Config: hex.EncodeToString(c[:]), Stamp: stamp, TextSum: sum}
}

// snapPath is where the snapshot of list lives.
func (c *diskCache) snapPath(list string) string { return c.base(list) + snapExt }

// writeSnapshot stores c's set under key, replacing any older snapshot.
func (dc *diskCache) writeSnapshot(list string, key snapKey, c *feedCopy) error {
	h := snapHeader{Key: key, Entries: c.entries, List: c.list, Category: c.category, Addrs: c.addrs,
		Report: c.report, Validators: c.validators, Fetched: c.fetched, Bytes: c.bytes}
	head, err := json.Marshal(h)
	if err != nil {
		return err
	}
	pre := make([]byte, snapPreLen, snapPreLen+len(head)+4)
	copy(pre, snapMagic)
	binary.LittleEndian.PutUint32(pre[len(snapMagic)+8:], uint32(len(head)))
	pre = append(append(pre, head...), 0, 0, 0, 0)
	tmp, err := os.CreateTemp(dc.dir, filepath.Base(dc.snapPath(list))+cacheTempTag+"*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(pre) // the set's length and the checksum are filled in below
	var n int64
	if err == nil {
		n, err = c.set.WriteTo(tmp)
	}
	if err == nil {
		binary.LittleEndian.PutUint64(pre[len(snapMagic):], uint64(n))
		binary.LittleEndian.PutUint32(pre[len(pre)-4:], crc32.Checksum(pre[:len(pre)-4], castagnoli))
		_, err = tmp.WriteAt(pre, 0)
	}
	return atomicfile.Finish(tmp, dc.snapPath(list), err)
}

// newTextSum returns the hash of a list's text in a snapshot's key: the
// 64-bit xxHash, not SHA-256. The sum only has to tell the text a snapshot
// was compiled from from an edit that kept the file's size and
// modification time (the stamp, compared first): a tool that restores the
// mtime, or a filesystem whose mtime ticks coarsely. It guards against
// accident, not an adversary: whoever can rewrite the list's text or the
// cache's body to collide could as well rewrite the list or the snapshot
// itself, and a remote list's body is written by Bulwark, which gives it
// a new stamp. SHA-256 (SHA-NI) ran at about 1.5 GB/s, a pass over the
// text on the path to the first answer (14 ms of a 1M-name cold start's
// CPU, about 120 ms at 10M names) and again on every warm start, where it
// was a twentieth of the start; xxHash64 runs at several times that.
func newTextSum() hash.Hash { return xxhash.New() }

// errSnapStale says a snapshot is of another text, settings or version.
var errSnapStale = errors.New("stale")

// readSnapshot loads list's snapshot if its key is want's, checking the
// text's checksum by reading text (the stored copy of the list, positioned
// at its start) only once the cheaper parts of the key matched. The
// returned copy has no text reference yet.
func (dc *diskCache) readSnapshot(list string, want snapKey, text io.Reader) (*feedCopy, error) {
	f, err := os.Open(dc.snapPath(list))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pre [snapPreLen]byte
	if _, err := io.ReadFull(f, pre[:]); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	if string(pre[:len(snapMagic)]) != snapMagic {
		return nil, errors.New("not a feed snapshot (bad magic)")
	}
	setLen := binary.LittleEndian.Uint64(pre[len(snapMagic):])
	n := binary.LittleEndian.Uint32(pre[len(snapMagic)+8:])
	if n > maxSnapHead {
		return nil, fmt.Errorf("header length %d is implausible", n)
	}
	head := make([]byte, n+4)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	crc := crc32.Update(crc32.Checksum(pre[:], castagnoli), castagnoli, head[:n])
	if got := binary.LittleEndian.Uint32(head[n:]); got != crc {
		return nil, fmt.Errorf("header checksum mismatch (stored %08x, computed %08x)", got, crc)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch want := int64(snapPreLen) + int64(n) + 4 + int64(setLen); {
	case fi.Size() < want:
		return nil, fmt.Errorf("truncated: %d bytes, the header says %d", fi.Size(), want)
	case fi.Size() > want:
		return nil, fmt.Errorf("trailing bytes after the set: %d bytes, the header says %d", fi.Size(), want)
	}
	var h snapHeader
	if err := json.Unmarshal(head[:n], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	got := h.Key
	got.TextSum = want.TextSum // compared below, once the rest matches
	if got != want {
		return nil, fmt.Errorf("%w: %s", errSnapStale, keyDiff(h.Key, want))
	}
	sum := newTextSum()
	if _, err := io.Copy(sum, text); err != nil {
		return nil, fmt.Errorf("reading the list's text: %w", err)
	}
	if hex.EncodeToString(sum.Sum(nil)) != h.Key.TextSum {
		return nil, fmt.Errorf("%w: the list's text has another checksum", errSnapStale)
	}
	set, err := blocklist.ReadSet(f)
	if err != nil {
		return nil, err
	}
	if h.Report.Rejected == nil {
		h.Report.Rejected = map[string]int{}
	}
	return &feedCopy{set: set, entries: h.Entries, list: h.List, category: h.Category, addrs: h.Addrs,
		report: h.Report, validators: h.Validators, fetched: h.Fetched, bytes: h.Bytes}, nil
}

// keyDiff names the first part of the key that differs, for the log.
func keyDiff(got, want snapKey) string {
	switch {
	case got.Format != want.Format:
		return fmt.Sprintf("snapshot format %d, this build writes %d", got.Format, want.Format)
	case got.Version != want.Version:
		return fmt.Sprintf("written by Bulwark %s, this is %s", got.Version, want.Version)
	case got.Source != want.Source:
		return "the list's source changed"
	case got.Config != want.Config:
		return "the list's settings changed"
	case got.Stamp != want.Stamp:
		return "the list's text changed (size or modification time)"
	}
	return "the list's text changed"
}

// snapshotText returns the stored text of sp's copy — the file of a file
// list, the cached body of a remote one — with its stamp, or nil when the
// list has none (builtin lists are in the binary: no snapshot).
func (dc *diskCache) snapshotText(sp *feedSpec) (*os.File, string, error) {
	var p string
	switch s := sp.src.(type) {
	case fileSource:
		p = s.path
	case fsSource:
		return nil, "", nil
	default:
		p = dc.base(sp.info.Name) + cacheBodyExt
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, "", err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", err
	}
	return f, fileStamp(fi), nil
}

// warmCopy loads sp's copy from its snapshot when the snapshot is of the
// stored text as it is now; nil (and a log line saying why, unless there
// simply is no snapshot) otherwise. It reads no network.
func (m *Manager) warmCopy(sp *feedSpec) *feedCopy {
	if m.cache == nil {
		return nil
	}
	name := sp.info.Name
	start := time.Now()
	text, stamp, err := m.cache.snapshotText(sp)
	if text == nil || err != nil {
		return nil
	}
	defer text.Close()
	c, err := m.cache.readSnapshot(name, snapKeyOf(sp, m.build, stamp, ""), text)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Info("feed snapshot not used; parsing the list", "feed", name, "snapshot", m.cache.snapPath(name), "reason", err)
		}
		return nil
	}
	if sp.src.Remote() {
		c.text = cacheText(m.cache, sp, c.fetched)
	} else {
		c.text = localText(sp, c.validators)
	}
	m.log.Info("feed loaded from snapshot", "feed", name, "snapshot", m.cache.snapPath(name), "entries", c.entries,
		"took", time.Since(start).Round(time.Millisecond))
	return c
}

// snapJob is a snapshot waiting for its copy to be published.
type snapJob struct {
	f          *feed
	c          *feedCopy
	sum, stamp string // saveSnapshot's
}

// queueSnapshot asks for the snapshot of c, f's copy just parsed, to be
// written once the table holding it is published (flushSnapshots). A
// list's first start and its refreshes serve it without waiting on the
// write: 40 to 160 ms for a million names, a tenth of the cold start,
// that only the next start needs. A job queued for f earlier and not
// written yet is replaced.
func (m *Manager) queueSnapshot(f *feed, c *feedCopy, sum, stamp string) {
	if m.cache == nil || sum == "" || c.set == nil {
		return
	}
	m.snapMu.Lock()
	defer m.snapMu.Unlock()
	for i := range m.snapQueue {
		if m.snapQueue[i].f == f {
			m.snapQueue[i] = snapJob{f: f, c: c, sum: sum, stamp: stamp}
			return
		}
	}
	m.snapQueue = append(m.snapQueue, snapJob{f: f, c: c, sum: sum, stamp: stamp})
}

// flushSnapshots writes the queued snapshots on a goroutine of their own,
// one writer at a time; Close waits for it. A job whose copy is no longer
// the list's current one is dropped: the copy that replaced it queued its
// own.
func (m *Manager) flushSnapshots() {
	m.snapMu.Lock()
	jobs := m.snapQueue
	m.snapQueue = nil
	m.snapMu.Unlock()
	if len(jobs) == 0 {
		return
	}
	m.wg.Go(func() {
		m.snapWrite.Lock()
		defer m.snapWrite.Unlock()
		for _, j := range jobs {
			if j.f.current() == j.c {
				m.saveSnapshot(j.f.spec, j.c, j.sum, j.stamp)
			}
		}
		if m.onWritten != nil {
			m.onWritten()
		}
	})
}

// saveSnapshot writes the snapshot of c, just parsed from a text whose
// SHA-256 is sum; stamp is the text's stamp ("" to stat the cached body of
// a remote list). A failure is logged: it only costs a parse at the next
// start.
func (m *Manager) saveSnapshot(sp *feedSpec, c *feedCopy, sum, stamp string) {
	if m.cache == nil || sum == "" || c.set == nil { // a threat-intelligence copy keeps rules, not a set
		return
	}
	if c.local != nil || c.triggerCount() > 0 {
		return // the snapshot holds the name set and sinkhole addresses only: RPZ local data and address/NS triggers are parsed again
	}
	name := sp.info.Name
	if stamp == "" {
		fi, err := os.Stat(m.cache.base(name) + cacheBodyExt)
		if err != nil {
			return
		}
		stamp = fileStamp(fi)
	}
	if err := m.cache.writeSnapshot(name, snapKeyOf(sp, m.build, stamp, sum), c); err != nil {
		m.log.Warn("feed snapshot write failed; the next start parses the list", "feed", name, "dir", m.cache.dir, "err", err)
	}
}

// loadCachedWarm is loadCached trying the snapshot first: a remote list's
// cached body is parsed only when its snapshot cannot be used. The
// validators and dates come from the cache's metadata either way, which a
// 304 may have updated since the snapshot was written.
func (m *Manager) loadCachedWarm(ctx context.Context, sp *feedSpec) (*feedCopy, cacheMeta, error) {
	if f, meta, err := m.cache.open(sp.info.Name, sp.cfg.Source); err == nil {
		f.Close()
		if c := m.warmCopy(sp); c != nil && c.fetched.Equal(meta.Fetched) {
			c.validators, c.fetched, c.bytes = meta.Validators, meta.Fetched, meta.Bytes
			c.report.Source, c.report.Origin, c.report.Updated = sp.info.Source, OriginCache, meta.Fetched
			c.text = cacheText(m.cache, sp, meta.Fetched)
			return c, meta, nil
		}
	}
	defer m.building()()
	return loadCached(ctx, m.cache, sp, m.log)
}

// building opens a BuildScope (Options); it returns its end.
func (m *Manager) building() func() {
	if m.buildScope == nil {
		return func() {}
	}
	return m.buildScope()
}

// snapVersion identifies this build for snapshot keys: the version and
// the executable's size and modification time, so that a rebuilt binary
// (a parser fixed, a dev build) parses its lists again once instead of
// trusting sets another build compiled.
func snapVersion(version string) string {
	exe, err := os.Executable()
	if err != nil {
		return version
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return version
	}
	return version + " " + fileStamp(fi)
}
