package feeds

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// attempt refreshes one list once: fetch (conditionally), parse, check,
// and on success make the new copy current and ask for a rebuild. force
// re-reads a local file whatever its stamp. The returned error is also
// kept for Ready and Reports.
func (m *Manager) attempt(ctx context.Context, f *feed, force bool) error {
	f.fetchMu.Lock()
	defer f.fetchMu.Unlock()
	sp := f.spec
	name := sp.info.Name
	prev := f.current()
	var val Validators
	if prev != nil && !(force && !sp.src.Remote()) {
		val = prev.validators
	}
	actx, cancel := context.WithTimeout(ctx, sp.timeout)
	defer cancel()
	start, now := time.Now(), m.clock.Now()
	c, resp, bytes, tmp, err := m.download(actx, f, val)
	took := time.Since(start)
	result := resultUpdated
	switch {
	case err != nil:
		result = resultFailed
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%w (timeout %s)", err, sp.timeout)
		}
		err = fmt.Errorf("feed %q: %w", name, err)
	case resp.NotModified:
		result = resultUnchanged
	case prev != nil && sp.minRatio > 0 && prev.entries > 0 && float64(c.entries) < sp.minRatio*float64(prev.entries):
		result = resultRejected
		err = fmt.Errorf("feed %q: the new copy has %d entries, fewer than min_ratio %g of the last good copy's %d; keeping the last good copy (set min_ratio: 0 on the list to accept any size)",
			name, c.entries, sp.minRatio, prev.entries)
	}
	if tmp != nil && result != resultUpdated {
		m.cache.abort(tmp)
	}
	if ctx.Err() != nil && err != nil {
		return err // shutting down: not a feed failure
	}
	if sp.refresh > 0 { // builtin lists are read once: no attempt series (alerts rely on it)
		m.met().attempt(name, result, now, took, bytes)
		f.mu.Lock()
		f.attempted = now
		f.mu.Unlock()
	}
	switch result {
	case resultUpdated:
		c.validators, c.fetched, c.bytes = resp.Validators, now, bytes
		c.report.Origin, c.report.Updated = originOf(sp.src), now
		if tmp != nil {
			meta := cacheMeta{SourceHash: sourceHash(sp.cfg.Source), Validators: resp.Validators, Fetched: now, Checked: now, Bytes: bytes}
			if werr := m.cache.commit(tmp, name, meta); werr != nil {
				m.met().cacheWriteFailed(name)
				m.log.Error("feed cache write failed", "feed", name, "dir", m.cache.dir, "err", werr)
			} else {
				c.text = cacheText(m.cache, sp, now)
				m.queueSnapshot(f, c, c.textSum, "")
			}
		} else if !sp.src.Remote() {
			c.text = localText(sp, resp.Validators)
			m.queueSnapshot(f, c, c.textSum, resp.Validators.Stamp)
		}
		m.accept(f, c, now)
		m.log.Info("feed updated", "feed", name, "source", sp.src.String(), "format", c.report.Format,
			"entries", c.entries, "skipped", c.report.Skipped, "rejected", c.report.RejectedTotal(),
			"bytes", bytes, "took", took.Round(time.Millisecond))
	case resultUnchanged:
		f.mu.Lock()
		f.checked, f.lastErr = now, nil
		if prev != nil && resp.Validators != prev.validators && sp.src.Remote() {
			nc := *prev
			nc.validators = resp.Validators
			f.good = &nc
		}
		f.mu.Unlock()
		m.met().success(name, now)
		if m.cache != nil && sp.src.Remote() && prev != nil {
			meta := cacheMeta{SourceHash: sourceHash(sp.cfg.Source), Validators: resp.Validators, Fetched: prev.fetched, Checked: now, Bytes: prev.bytes}
			if werr := m.cache.writeMeta(name, meta); werr != nil {
				m.met().cacheWriteFailed(name)
				m.log.Error("feed cache write failed", "feed", name, "dir", m.cache.dir, "err", werr)
			}
		}
		m.log.Debug("feed unchanged", "feed", name, "took", took.Round(time.Millisecond))
	default:
		f.mu.Lock()
		f.lastErr = err
		if errors.Is(err, errZoneExpired) && f.good != nil {
			f.good, prev = nil, nil // on_expire: drop
			m.version.Add(1)
			select {
			case m.dirty <- struct{}{}:
			default:
			}
		}
		f.mu.Unlock()
		if prev != nil {
			m.log.Warn("feed refresh failed; keeping the last good copy", "feed", name, "err", err)
		} else {
			m.log.Error("feed refresh failed; the list has no copy yet", "feed", name, "err", err)
		}
	}
	return err
}

// download fetches and parses one copy. For a remote list with a disk
// cache, the body is also written to a temporary file as it streams; the
// caller commits it to the cache if it accepts the copy, else aborts it.
func (m *Manager) download(ctx context.Context, f *feed, val Validators) (*feedCopy, *Response, int64, *os.File, error) {
	sp := f.spec
	resp, err := sp.src.Fetch(ctx, val)
	if err != nil {
		return nil, nil, 0, nil, err
	}
	if resp.NotModified {
		return nil, resp, 0, nil, nil
	}
	defer resp.Body.Close()
	if !sp.src.Remote() {
		if c := m.warmCopy(sp); c != nil {
			resp.Validators = c.validators
			return c, resp, c.bytes, nil, nil
		}
	}
	cr := &countingReader{r: resp.Body}
	in := newLimitReader(cr, sp.maxSize)
	var tmp *os.File
	if m.cache != nil && sp.src.Remote() {
		if tmp, err = m.cache.begin(sp.info.Name); err != nil {
			m.met().cacheWriteFailed(sp.info.Name)
			m.log.Error("feed cache write failed", "feed", sp.info.Name, "dir", m.cache.dir, "err", err)
			tmp = nil
		} else {
			in = io.TeeReader(in, tmp)
		}
	}
	sum := newTextSum() // the snapshot's key
	in = &hashingReader{r: in, h: sum}
	done := m.building()
	c, err := parseCopy(ctx, sp, in, sp.src.String(), m.log)
	done()
	if err == nil {
		// Read to the end: a truncated body must fail, and the cache
		// must hold every byte.
		if _, err = io.Copy(io.Discard, in); err != nil {
			err = fmt.Errorf("reading %s: %w", sp.src.String(), err)
		}
	}
	if err == nil {
		c.textSum = hex.EncodeToString(sum.Sum(nil))
	}
	if err != nil {
		if tmp != nil {
			m.cache.abort(tmp)
		}
		return nil, nil, cr.n, nil, err
	}
	return c, resp, cr.n, tmp, nil
}
