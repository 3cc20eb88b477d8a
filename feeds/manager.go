package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/internal/clock"
)

// Options configure a Manager. Config, the lists and BaseDir come from the
// config file; the rest are dependencies cmd/bulwark constructs once.
type Options struct {
	// Config is the feeds section; unset values get their defaults.
	Config     Config
	Blocklists []ListConfig
	Allowlists []ListConfig
	// BaseDir resolves relative "file:" paths, header files and cache_dir.
	BaseDir string
	// Builtin holds embedded lists for "builtin:" sources (may be nil).
	Builtin fs.FS
	// Client downloads HTTP lists; nil means a client with the default
	// transport's settings (proxy from the environment). Its own Timeout
	// should be 0: each list's timeout bounds its requests.
	Client *http.Client
	// Clock schedules refreshes; nil means the real clock.
	Clock clock.Clock
	// Poll bounds how long a refresh loop sleeps before it reads Clock
	// again (so a fake clock moved by a test is noticed); default 1m.
	Poll time.Duration
	// Logger receives one line per refresh outcome and the first few
	// rejected lines of each new copy; nil discards.
	Logger  *slog.Logger
	Metrics *Metrics
	// Version goes into the User-Agent, "Bulwark/<version>".
	Version string
	// Tables is where each new merged table is published (the resolver's
	// policy reads it); nil means a pointer of the Manager's own.
	Tables *atomic.Pointer[blocklist.Table]
	// OnPublish, if set, is called after each table is published.
	OnPublish func(*blocklist.Table)
	// Previous is the running Manager of the configuration this one
	// replaces (a config reload). Each list whose configuration is the
	// same in both starts from Previous's copy, validators and schedule
	// instead of being loaded again; Start then fetches only the lists
	// that are new or changed. Previous keeps running until its owner
	// closes it.
	Previous *Manager
}

// Manager keeps every configured list fresh: each list is refreshed on its
// own schedule (interval with jitter, conditional requests, backoff after
// a failure), its last good copy is kept in memory and, for HTTP lists, on
// disk, and after any change the merged table is rebuilt from the per-list
// copies off the query path and swapped in atomically. A failed, empty or
// shrunken download never replaces a good copy.
type Manager struct {
	cfg        Config
	specs      []*feedSpec
	feeds      []*feed
	categories []string
	cacheDir   string
	cache      *diskCache
	ownClient  *http.Client // created here, so closed here
	clock      clock.Clock
	poll       time.Duration
	log        *slog.Logger
	metrics    atomic.Pointer[Metrics] // nil until SetMetrics for a staged Manager
	tables     *atomic.Pointer[blocklist.Table]
	onPublish  func(*blocklist.Table)
	rules      atomic.Pointer[Rules] // the copies of the published table
	buildTook  atomic.Int64          // duration of the last build

	dirty    chan struct{} // a copy changed: rebuild (capacity 1, coalescing)
	version  atomic.Uint64 // bumped on every copy change
	buildMu  sync.Mutex
	built    uint64      // version of the copies the published table holds
	complete atomic.Bool // the published table holds a copy of every list
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// feed is the Manager's state for one list.
type feed struct {
	spec    *feedSpec
	kick    chan struct{} // refresh now (capacity 1)
	force   atomic.Bool   // the next attempt ignores a local file's stamp
	fetchMu sync.Mutex    // one attempt at a time
	adopted bool          // good came from Options.Previous

	mu        sync.Mutex
	good      *feedCopy
	checked   time.Time // when the source last confirmed good
	attempted time.Time // the last refresh attempt (zero: none yet)
	lastErr   error
	settled   chan struct{} // closed once the start-up policy is satisfied
	settleOne sync.Once
}

func (f *feed) current() *feedCopy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.good
}

func (f *feed) settle() { f.settleOne.Do(func() { close(f.settled) }) }

// NewManager validates the configuration and resolves every list's
// source. It does no I/O; Start loads the lists.
func NewManager(o Options) (*Manager, error) {
	cfg := o.Config
	cfg.SetDefaults()
	if errs := append(cfg.Validate("feeds"), ValidateLists(o.Blocklists, o.Allowlists)...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	client, ownClient := o.Client, (*http.Client)(nil)
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		ownClient = client
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	specs, categories, err := buildSpecs(&cfg, o.Blocklists, o.Allowlists, specEnv{
		baseDir: o.BaseDir, builtin: o.Builtin, client: client,
		userAgent: "Bulwark/" + version + " (+https://github.com/bulwark-dns/bulwark)",
	})
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, specs: specs, categories: categories, ownClient: ownClient, clock: o.Clock, poll: o.Poll,
		log: o.Logger, tables: o.Tables, onPublish: o.OnPublish, dirty: make(chan struct{}, 1)}
	m.metrics.Store(o.Metrics)
	if m.clock == nil {
		m.clock = clock.Real{}
	}
	if m.poll <= 0 {
		m.poll = time.Minute
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.tables == nil {
		m.tables = &atomic.Pointer[blocklist.Table]{}
	}
	if cfg.CacheDir != "" {
		m.cacheDir = resolveFile(filepath.ToSlash(cfg.CacheDir), o.BaseDir)
	}
	for _, sp := range specs {
		f := &feed{spec: sp, kick: make(chan struct{}, 1), settled: make(chan struct{})}
		if o.Previous != nil {
			f.adopt(o.Previous.feedFor(sp))
		}
		m.feeds = append(m.feeds, f)
		if f.adopted {
			m.version.Add(1)
		} else {
			m.met().declare(sp.info.Name)
		}
	}
	return m, nil
}

// met is the Metrics being recorded into (nil records nothing).
func (m *Manager) met() *Metrics { return m.metrics.Load() }

// feedFor returns the running feed that serves the same list as sp —
// same name, kind, configuration and effective settings — or nil.
func (m *Manager) feedFor(sp *feedSpec) *feed {
	for _, f := range m.feeds {
		o := f.spec
		if o.info.Name != sp.info.Name {
			continue
		}
		if o.allow != sp.allow || o.refresh != sp.refresh || o.timeout != sp.timeout || o.maxSize != sp.maxSize || o.maxEntries != sp.maxEntries ||
			o.minRatio != sp.minRatio || o.src.String() != sp.src.String() || !reflect.DeepEqual(o.cfg, sp.cfg) {
			return nil
		}
		return f
	}
	return nil
}

// adopt takes over old's copy and history (nil: nothing to take).
func (f *feed) adopt(old *feed) {
	if old == nil {
		return
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if old.good == nil {
		return
	}
	f.good, f.checked, f.attempted, f.lastErr = old.good, old.checked, old.attempted, old.lastErr
	f.adopted = true
}

// SetMetrics makes the Manager record into met from now on and exports
// its current state there (every list's copy, the published table). A
// reload builds the new Manager without metrics, so that a reload that
// fails leaves the series of the running one alone, and calls SetMetrics
// once the new Manager serves.
func (m *Manager) SetMetrics(met *Metrics) {
	m.metrics.Store(met)
	for _, f := range m.feeds {
		name := f.spec.info.Name
		met.declare(name)
		f.mu.Lock()
		good, checked := f.good, f.checked
		f.mu.Unlock()
		if good != nil {
			met.copyInUse(name, good)
			met.success(name, checked)
		}
	}
	if t := m.tables.Load(); t != nil {
		met.published(t, time.Duration(m.buildTook.Load()))
	}
}

// Names returns the lists' names in config order.
func (m *Manager) Names() []string {
	out := make([]string, len(m.feeds))
	for i, f := range m.feeds {
		out[i] = f.spec.info.Name
	}
	return out
}

// Start loads every list and publishes the first table, following the
// start-up policy, then keeps refreshing in the background until ctx is
// done or Close is called.
//
// Local lists are read first; one that cannot be read fails Start (it is
// a configuration mistake). HTTP lists start from their cached copy, if
// any, and are downloaded when the copy is older than their refresh
// interval. With startup "wait" Start returns once every list has a copy
// and every due download has been tried, or fails after startup_timeout
// naming the lists still missing; with "serve-cached" it returns at once.
func (m *Manager) Start(ctx context.Context) error {
	if m.cacheDir != "" {
		c, err := openCache(m.cacheDir)
		if err != nil {
			return err
		}
		m.cache = c
	}
	bg, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	fail := func(err error) error {
		cancel()
		m.wg.Wait()
		return err
	}
	now := m.clock.Now()
	for _, f := range m.feeds {
		if f.spec.src.Remote() {
			continue
		}
		if f.adopted && f.spec.refresh == 0 {
			f.settle() // a builtin list never changes within a binary
			continue
		}
		// An adopted local copy is checked against the file's stamp:
		// unchanged, it costs a stat, not a parse.
		if err := m.attempt(ctx, f, false); err != nil {
			return fail(err)
		}
		f.settle()
	}
	remote := 0
	for _, f := range m.feeds {
		if f.adopted && f.spec.src.Remote() {
			// Kept from the previous configuration: next refresh as
			// that one had it planned, no disk cache read.
			f.mu.Lock()
			due := f.checked.Add(jitter(f.spec.refresh))
			f.mu.Unlock()
			f.settle()
			m.runFeed(bg, f, due)
			continue
		}
		if !f.spec.src.Remote() {
			if f.spec.refresh > 0 {
				m.runFeed(bg, f, now.Add(jitter(f.spec.refresh)))
			}
			continue
		}
		remote++
		due := now
		if m.cache == nil {
			m.log.Warn("feed has no disk cache: set feeds.cache_dir so that a restart without network still serves it", "feed", f.spec.info.Name)
		} else if c, meta, err := loadCached(ctx, m.cache, f.spec, m.log); err != nil {
			m.log.Info("feed has no usable cached copy", "feed", f.spec.info.Name, "reason", err)
		} else {
			m.accept(f, c, meta.Checked)
			logLoaded(m.log, c)
			if fresh := meta.Checked.Add(f.spec.refresh); fresh.After(now) {
				due = fresh
				f.settle()
			}
		}
		m.runFeed(bg, f, due)
	}
	if m.cfg.Startup == StartupWait && remote > 0 {
		if err := m.waitSettled(ctx); err != nil {
			return fail(err)
		}
	}
	select { // the build below covers every change so far
	case <-m.dirty:
	default:
	}
	if err := m.rebuild(); err != nil {
		return fail(err)
	}
	m.wg.Add(1)
	go m.builder(bg)
	return nil
}

// waitSettled waits until every list is settled, for at most
// startup_timeout.
func (m *Manager) waitSettled(ctx context.Context) error {
	timer := time.NewTimer(m.cfg.StartupTimeout)
	defer timer.Stop()
	for _, f := range m.feeds {
		select {
		case <-f.settled:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("feeds not loaded after feeds.startup_timeout %s (use feeds.startup: %s to serve without them): %w",
				m.cfg.StartupTimeout, StartupServeCached, m.Ready())
		}
	}
	return nil
}

// Close stops the background refreshes and waits for them to end. The
// last published table stays readable.
func (m *Manager) Close() {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.ownClient != nil {
		m.ownClient.CloseIdleConnections()
	}
}

// Load returns the table being served (nil before Start publishes one);
// a Manager is a resolver.Tables.
func (m *Manager) Load() *blocklist.Table { return m.tables.Load() }

// Ready returns nil once the served table holds a copy of every list, or
// an error naming the lists without one (and why) — /readyz shows it.
func (m *Manager) Ready() error {
	var missing []string
	for _, f := range m.feeds {
		f.mu.Lock()
		switch {
		case f.good != nil:
		case f.lastErr != nil:
			missing = append(missing, fmt.Sprintf("%s (%v)", f.spec.info.Name, f.lastErr))
		default:
			missing = append(missing, f.spec.info.Name+" (not fetched yet)")
		}
		f.mu.Unlock()
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("lists not loaded: %s", strings.Join(missing, "; "))
	case m.tables.Load() == nil || !m.complete.Load():
		return errors.New("the merged blocklist is being built")
	}
	return nil
}

// Reports describes each list's copy in use and its last refresh.
func (m *Manager) Reports() []Report {
	out := make([]Report, len(m.feeds))
	for i, f := range m.feeds {
		f.mu.Lock()
		if f.good != nil {
			out[i] = f.good.report
		} else {
			out[i] = Report{List: f.spec.info.Name, Source: f.spec.info.Source}
		}
		out[i].Allow = f.spec.allow
		out[i].LastSuccess, out[i].LastAttempt = f.checked, f.attempted
		if f.lastErr != nil {
			out[i].LastError = f.lastErr.Error()
		}
		f.mu.Unlock()
	}
	return out
}

// RefreshAll asks every refreshable list to refresh now, without waiting
// (SIGHUP). Local files are re-read even if their size and time match.
func (m *Manager) RefreshAll() { m.refresh(0) }

// RefreshStale is RefreshAll, except that an HTTP list asked less than
// age ago is not asked again: the admin API's POST /reload uses it, so
// that ten requests in a row are not ten requests to a feed provider,
// which bans clients that poll too often.
func (m *Manager) RefreshStale(age time.Duration) { m.refresh(age) }

func (m *Manager) refresh(age time.Duration) {
	now := m.clock.Now()
	for _, f := range m.feeds {
		if f.spec.refresh == 0 {
			continue
		}
		if age > 0 && f.spec.src.Remote() {
			f.mu.Lock()
			recent := !f.attempted.IsZero() && now.Sub(f.attempted) < age
			f.mu.Unlock()
			if recent {
				m.log.Debug("feed asked recently; not asked again", "feed", f.spec.info.Name, "within", age)
				continue
			}
		}
		f.force.Store(true)
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// RefreshNow refreshes every refreshable list at once and, if any changed,
// publishes the new table before returning. It returns the lists' errors;
// each failed list keeps its last good copy.
func (m *Manager) RefreshNow(ctx context.Context) error {
	errs := make([]error, len(m.feeds))
	var wg sync.WaitGroup
	for i, f := range m.feeds {
		if f.spec.refresh == 0 {
			continue
		}
		wg.Go(func() { errs[i] = m.attempt(ctx, f, true) })
	}
	wg.Wait()
	if err := m.rebuild(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// runFeed starts the refresh loop of one list: wait until due (or a
// kick), refresh, and schedule the next attempt: the refresh interval
// with jitter after a success, an exponential backoff after a failure.
// Both count from the start of the attempt, so a slow download does not
// push every later refresh back by its own length; an attempt that took
// longer than the wait is followed by the next one at once.
func (m *Manager) runFeed(ctx context.Context, f *feed, due time.Time) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		failures := 0
		for m.sleep(ctx, f, due) {
			start := m.clock.Now()
			err := m.attempt(ctx, f, f.force.Swap(false))
			if ctx.Err() != nil {
				return
			}
			if f.current() != nil {
				f.settle()
			}
			var wait time.Duration
			if err == nil {
				failures = 0
				wait = jitter(f.spec.refresh)
			} else {
				failures++
				wait = m.backoff(failures, f.spec.refresh)
				m.log.Info("feed retry scheduled", "feed", f.spec.info.Name, "failures", failures, "in", wait.Round(time.Second))
			}
			due = start.Add(wait)
		}
	}()
}

// sleep waits until due by the Manager's clock, a kick, or ctx's end
// (false).
func (m *Manager) sleep(ctx context.Context, f *feed, due time.Time) bool {
	for {
		d := due.Sub(m.clock.Now())
		if d <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(min(d, m.poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-f.kick:
			t.Stop()
			return true
		case <-t.C:
		}
	}
}

// maxRetry caps the backoff of a failing list.
const maxRetry = time.Hour

// backoff is the delay before retry n (1-based): feeds.retry doubling per
// failure, at most the refresh interval (and an hour), with jitter.
func (m *Manager) backoff(n int, refresh time.Duration) time.Duration {
	limit := min(refresh, maxRetry)
	d := m.cfg.Retry
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return jitter(min(d, limit))
}

// jitter spreads d by ±10%, so that a fleet restarted together does not
// poll a feed provider in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

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
	case prev != nil && sp.minRatio > 0 && prev.rules.len() > 0 && float64(c.rules.len()) < sp.minRatio*float64(prev.rules.len()):
		result = resultRejected
		err = fmt.Errorf("feed %q: the new copy has %d entries, fewer than min_ratio %g of the last good copy's %d; keeping the last good copy (set min_ratio: 0 on the list to accept any size)",
			name, c.rules.len(), sp.minRatio, prev.rules.len())
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
			}
		}
		m.accept(f, c, now)
		m.log.Info("feed updated", "feed", name, "source", sp.src.String(), "format", c.report.Format,
			"entries", c.rules.len(), "skipped", c.report.Skipped, "rejected", c.report.RejectedTotal(),
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
	c, err := parseCopy(ctx, sp, in, sp.src.String(), m.log)
	if err == nil {
		// Read to the end: a truncated body must fail, and the cache
		// must hold every byte.
		if _, err = io.Copy(io.Discard, in); err != nil {
			err = fmt.Errorf("reading %s: %w", sp.src.String(), err)
		}
	}
	if err != nil {
		if tmp != nil {
			m.cache.abort(tmp)
		}
		return nil, nil, cr.n, nil, err
	}
	return c, resp, cr.n, tmp, nil
}

// accept makes c the list's current copy, confirmed by its source at
// checked, and asks for a rebuild.
func (m *Manager) accept(f *feed, c *feedCopy, checked time.Time) {
	f.mu.Lock()
	f.good, f.checked, f.lastErr = c, checked, nil
	f.mu.Unlock()
	m.met().copyInUse(f.spec.info.Name, c)
	m.met().success(f.spec.info.Name, checked)
	m.version.Add(1)
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

// builder rebuilds the merged table whenever a copy changed, one build at
// a time; changes arriving during a build are coalesced into the next.
func (m *Manager) builder(ctx context.Context) {
	defer m.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.dirty:
			_ = m.rebuild()
		}
	}
}

// rebuild merges the current copies and publishes the table, unless
// nothing changed since the last build. Queries keep reading the old
// table until the pointer swap; a failed build keeps it.
func (m *Manager) rebuild() error {
	m.buildMu.Lock()
	defer m.buildMu.Unlock()
	v := m.version.Load()
	if m.tables.Load() != nil && v == m.built {
		return nil
	}
	copies := make([]*feedCopy, len(m.feeds))
	complete := true
	for i, f := range m.feeds {
		copies[i] = f.current()
		complete = complete && copies[i] != nil
	}
	start := time.Now()
	t, dropped, err := merge(m.specs, copies, m.categories)
	if err != nil {
		m.met().buildFailed()
		m.log.Error("blocklist build failed; keeping the one being served", "err", err)
		return err
	}
	if dropped > 0 {
		m.log.Error("blocklist build dropped invalid rules (a parser bug)", "rules", dropped)
	}
	took := time.Since(start)
	m.rules.Store(&Rules{table: t, specs: m.specs, copies: copies})
	m.tables.Store(t)
	m.buildTook.Store(int64(took))
	m.built = v
	m.complete.Store(complete)
	m.met().published(t, took)
	m.log.Info("blocklist published", "lists", len(t.Lists), "rules", t.Set.Len(), "bytes", t.Set.SizeBytes(), "took", took.Round(time.Millisecond))
	if m.onPublish != nil {
		m.onPublish(t)
	}
	return nil
}
