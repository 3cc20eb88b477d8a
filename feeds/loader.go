package feeds

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// Loader reads every configured list once and merges them into one Table,
// without touching the network: HTTP lists come from the disk cache when
// it holds a copy, and are reported as not loaded otherwise. It serves
// `bulwark check` and `bulwark explain`; the server uses Manager. It holds
// no state between loads.
type Loader struct {
	// BaseDir is the directory of the config file; relative "file:" paths
	// and cache_dir resolve against it.
	BaseDir string
	// Builtin holds embedded lists for "builtin:" sources (may be nil).
	Builtin fs.FS
	// Feeds is the feeds section (cache_dir and defaults); zero is fine.
	Feeds Config
	// Logger receives the first few rejected lines per list (with list
	// name, file, line and reason) and a summary per list; nil discards.
	Logger *slog.Logger
}

// Report says what one list contributed, for `bulwark check`, logs and
// metrics.
type Report struct {
	List string
	// Allow says the list is an allowlist (its rules are exceptions).
	Allow bool
	// Source is the configured source, with URL credentials redacted.
	Source string
	// Format is the format used: the configured one, or the detected one
	// for auto.
	Format string
	// Lines is the number of lines read, blank and comment lines included.
	Lines int
	// Entries is the number of rules the list contributed. A name listed
	// twice counts twice: deduplicating a million-line list here would cost
	// more than the parse, and the Set keeps one rule per name and form.
	Entries int
	// Skipped counts lines that are fine to ignore: hosts-file localhost
	// boilerplate, cosmetic adblock rules, RPZ IP triggers. SkippedBy
	// splits it by reason. Blank and comment lines are not counted.
	Skipped   int
	SkippedBy map[string]int
	// Rejected maps a reason (the Reason* constants) to how many lines or
	// names it rejected. Never nil for a loaded list.
	Rejected map[string]int
	// Samples holds the first few rejections, in file order.
	Samples []LineError
	// Approximated counts RPZ rules answered with the closest block Bulwark
	// can give (see ParseRPZ).
	Approximated int
	// Triggers counts the list's RPZ rules by trigger kind other than the
	// query name ("rpz-client-ip", "rpz-ip", "rpz-nsdname", "rpz-nsip");
	// nil when it has none. The name-server kinds apply only to recursion.
	Triggers map[string]int
	// Origin is where the copy in use came from: "network", "cache",
	// "file" or "builtin"; "" when the list has no copy yet.
	Origin string
	// Updated is when the copy's content was read from its source.
	Updated time.Time
	// LastError is why the last refresh failed, or why the list has no
	// copy; "" after a success.
	LastError string
	// LastSuccess is when the source last confirmed the copy in use (a
	// download, a 304, an unchanged file); LastAttempt is the last
	// refresh attempt. Manager reports only: zero from Loader, and
	// LastAttempt stays zero for builtin lists, which are never refreshed.
	LastSuccess time.Time
	LastAttempt time.Time
}

// RejectedTotal sums Rejected.
func (r *Report) RejectedTotal() int {
	n := 0
	for _, c := range r.Rejected {
		n += c
	}
	return n
}

// Load reads and parses every list in config order (block lists first,
// then allow lists) and builds one merged Table. An invalid config, or a
// local list that cannot be read, fails the whole load with an error
// naming the list and its source; invalid lines only show up in that
// list's Report.
func (l *Loader) Load(ctx context.Context, blocks, allows []ListConfig) (*blocklist.Table, []Report, error) {
	r, reports, err := l.LoadRules(ctx, blocks, allows)
	if err != nil {
		return nil, nil, err
	}
	return r.Table(), reports, nil
}

// LoadRules is Load keeping each list's copy, for explain (Rules.Matching).
func (l *Loader) LoadRules(ctx context.Context, blocks, allows []ListConfig) (*Rules, []Report, error) {
	cfg := l.Feeds
	cfg.SetDefaults()
	specs, categories, err := buildSpecs(&cfg, blocks, allows, specEnv{baseDir: l.BaseDir, builtin: l.Builtin})
	if err != nil {
		return nil, nil, err
	}
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var cache *diskCache
	if cfg.CacheDir != "" {
		cache = &diskCache{dir: resolveFile(filepath.ToSlash(cfg.CacheDir), l.BaseDir)}
	}
	copies := make([]*feedCopy, len(specs))
	reports := make([]Report, len(specs))
	for i, sp := range specs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		var c *feedCopy
		var err error
		if sp.src.Remote() {
			c, _, err = loadCached(ctx, cache, sp, log)
			if err != nil {
				reports[i] = Report{List: sp.info.Name, Source: sp.info.Source, Allow: sp.allow,
					LastError: "not downloaded by this command, and " + err.Error()}
				continue
			}
		} else {
			c, err = readLocal(ctx, sp, log)
			if err != nil {
				return nil, nil, err
			}
		}
		copies[i], reports[i] = c.liveAt(time.Now()), c.report
		reports[i].Allow = sp.allow
		logLoaded(log, c)
	}
	t, _, err := merge(specs, copies, categories)
	if err != nil {
		return nil, nil, err
	}
	return &Rules{table: t, specs: specs, copies: copies}, reports, nil
}

// readLocal reads a file or builtin list in full.
func readLocal(ctx context.Context, sp *feedSpec, log *slog.Logger) (*feedCopy, error) {
	resp, err := sp.src.Fetch(ctx, Validators{})
	if err != nil {
		return nil, fmt.Errorf("feed %q: %w", sp.info.Name, err)
	}
	defer resp.Body.Close()
	cr := &countingReader{r: resp.Body}
	c, err := parseCopy(ctx, sp, newLimitReader(cr, sp.maxSize), sp.src.String(), log)
	if err != nil {
		return nil, fmt.Errorf("feed %q: %w", sp.info.Name, err)
	}
	c.validators, c.bytes = resp.Validators, cr.n
	c.report.Origin = originOf(sp.src)
	c.text = localText(sp, resp.Validators)
	return c, nil
}

// loadCached parses the cached copy of a remote list; with no cache or no
// copy the error says so.
func loadCached(ctx context.Context, cache *diskCache, sp *feedSpec, log *slog.Logger) (*feedCopy, cacheMeta, error) {
	if cache == nil {
		return nil, cacheMeta{}, errors.New("feeds.cache_dir is not set")
	}
	f, meta, err := cache.open(sp.info.Name, sp.cfg.Source)
	if err != nil {
		switch {
		case errors.Is(err, errOtherSource):
			return nil, meta, fmt.Errorf("%w in %s", err, cache.dir)
		case errors.Is(err, fs.ErrNotExist):
			return nil, meta, fmt.Errorf("no cached copy in %s", cache.dir)
		}
		return nil, meta, fmt.Errorf("cached copy: %w", err)
	}
	defer f.Close()
	c, err := parseCopy(ctx, sp, newLimitReader(f, sp.maxSize), "cache:"+f.Name(), log)
	if err != nil {
		return nil, meta, err
	}
	c.validators, c.fetched, c.bytes = meta.Validators, meta.Fetched, meta.Bytes
	c.text = cacheText(cache, sp, meta.Fetched)
	c.report.Source, c.report.Origin, c.report.Updated = sp.info.Source, OriginCache, meta.Fetched
	return c, meta, nil
}

// Report origins: where the copy a list serves came from.
const (
	OriginNetwork = "network"
	OriginCache   = "cache"
	OriginFile    = "file"
	OriginBuiltin = "builtin"
)

func originOf(s Source) string {
	switch s.(type) {
	case fileSource:
		return OriginFile
	case fsSource:
		return OriginBuiltin
	}
	return OriginNetwork
}

func logLoaded(log *slog.Logger, c *feedCopy) {
	r := &c.report
	log.Info("feed loaded", "feed", r.List, "source", r.Source, "origin", r.Origin, "format", r.Format,
		"entries", r.Entries, "skipped", r.Skipped, "rejected", r.RejectedTotal())
}
