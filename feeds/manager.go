package feeds

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
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
	// Previous is the running Manager of the configuration this one
	// replaces (a config reload). Each list whose configuration is the
	// same in both starts from Previous's copy, validators and schedule
	// instead of being loaded again; Start then fetches only the lists
	// that are new or changed. Previous keeps running until its owner
	// closes it.
	Previous *Manager
	// OnPublish, if set, is called after each table is published (also
	// an IXFR's overlay table), e.g. to return the build's garbage.
	OnPublish func(*blocklist.Table)
	// OnSnapshotsWritten, if set, is called after the snapshots of a
	// published table's new copies are written, in the background
	// (flushSnapshots), e.g. to return what became garbage since
	// OnPublish: a refresh's replaced copy can still be reachable then.
	OnSnapshotsWritten func()
	// BuildScope, if set, is called when a list starts being parsed or
	// the table merged, and what it returns when that is done: a build
	// makes several times its result in garbage, which the server collects
	// more eagerly meanwhile.
	BuildScope func() (done func())
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
	build      string // this build, for snapshot keys (snapVersion)
	buildScope func() func()
	ownClient  *http.Client // created here, so closed here
	clock      clock.Clock
	poll       time.Duration
	log        *slog.Logger
	metrics    atomic.Pointer[Metrics] // nil until SetMetrics for a staged Manager
	tables     *atomic.Pointer[blocklist.Table]
	onPublish  func(*blocklist.Table)
	onWritten  func()
	rules      atomic.Pointer[Rules] // the copies of the published table
	buildTook  atomic.Int64          // duration of the last build
	liveAt     atomic.Int64          // clock reading (UnixNano) the last build chose the live intel rules at

	dirty    chan struct{} // a copy changed: rebuild (capacity 1, coalescing)
	version  atomic.Uint64 // bumped on every copy change
	buildMu  sync.Mutex
	built    uint64      // version of the copies the published table holds
	complete atomic.Bool // the published table holds a copy of every list
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// Snapshots to write once their copies are published (snapshotcache.go).
	snapMu    sync.Mutex
	snapQueue []snapJob
	snapWrite sync.Mutex // one writer at a time
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
		log: o.Logger, tables: o.Tables, onPublish: o.OnPublish, onWritten: o.OnSnapshotsWritten, dirty: make(chan struct{}, 1), build: snapVersion(version), buildScope: o.BuildScope}
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
		if x, ok := sp.src.(managedSource); ok {
			x.attach(m) // zone transfer (xfr.go), TAXII and MISP feeds (intelstate.go)
		}
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
		} else if c, meta, err := m.loadCachedWarm(ctx, f.spec); err != nil {
			m.log.Info("feed has no usable cached copy", "feed", f.spec.info.Name, "reason", err)
		} else {
			m.accept(f, c, meta.Checked)
			logLoaded(m.log, c)
			if _, xfr := f.spec.src.(*xfrSource); xfr {
				f.settle() // a saved zone serves at once and is checked (IXFR) at once
			} else if fresh := meta.Checked.Add(f.spec.refresh); fresh.After(now) {
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
	m.watchValidity(bg)
	return nil
}

// waitSettled waits until every list is settled, for at most
// startup_timeout by the Manager's clock, as the refreshes are scheduled.
func (m *Manager) waitSettled(ctx context.Context) error {
	deadline := m.clock.Now().Add(m.cfg.StartupTimeout)
	for _, f := range m.feeds {
		select {
		case <-f.settled:
			continue // settled in time, though the deadline may have passed since
		default:
		}
		settled, err := m.waitUntil(ctx, deadline, f.settled)
		if err != nil {
			return err
		}
		if !settled {
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
// a Manager is a pipeline.Tables.
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
