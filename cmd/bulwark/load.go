package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/configs"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/config"
)

// flags are the options every subcommand shares.
type flags struct {
	config string
}

// parseFlags parses the shared flags and those extra registers.
func parseFlags(name string, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (*flags, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	fs.StringVar(&f.config, "config", "", "config file (default: the embedded default config)")
	for _, e := range extra {
		e(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return f, fs, nil
}

// source is a loaded config file with what is needed to resolve its lists.
type source struct {
	cfg     *config.Config
	name    string // file name for messages
	baseDir string // relative list paths resolve against it
}

// loadConfig reads and validates the config file, or the embedded default
// when path is empty.
func loadConfig(path string) (*source, error) {
	if path == "" {
		cfg, err := config.Parse(configs.Default(), "(embedded default config)")
		if err != nil {
			return nil, err
		}
		wd, _ := os.Getwd()
		return &source{cfg: cfg, name: "(embedded default config)", baseDir: wd}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := config.Parse(data, path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &source{cfg: cfg, name: path, baseDir: filepath.Dir(abs)}, nil
}

// loadLists reads every list of the config into one table, once and
// without the network: HTTP lists come from feeds.cache_dir (check and
// explain use it).
func (s *source) loadLists(ctx context.Context, logger *slog.Logger) (*feeds.Rules, []feeds.Report, error) {
	l := &feeds.Loader{BaseDir: s.baseDir, Builtin: configs.Lists(), Feeds: s.cfg.Feeds, Logger: logger}
	return l.LoadRules(ctx, s.cfg.Blocklists, s.cfg.Allowlists)
}

// newManager builds the list manager of serve: it loads, refreshes and
// publishes the lists into tables. With prev (a reload), lists whose
// configuration did not change start from prev's copies.
func (s *source) newManager(logger *slog.Logger, m *feeds.Metrics, tables *atomic.Pointer[blocklist.Table], prev *feeds.Manager, gc *buildGC) (*feeds.Manager, error) {
	return feeds.NewManager(feeds.Options{
		Config:     s.cfg.Feeds,
		Blocklists: s.cfg.Blocklists,
		Allowlists: s.cfg.Allowlists,
		BaseDir:    s.baseDir,
		Builtin:    configs.Lists(),
		Clock:      clock.Real{},
		Logger:     logger,
		Metrics:    m,
		Version:    version,
		Tables:     tables,
		OnPublish:  func(*blocklist.Table) { releaseBuildGarbage() },
		// Once more after the snapshots: a refresh's replaced copy (10M
		// names: 130 MB) was still reachable at the publish.
		OnSnapshotsWritten: releaseBuildGarbage,
		BuildScope:         gc.enter,
		Previous:           prev,
	})
}

// newLogger returns the operational logger at level (validated), and the
// level variable a reload sets.
func newLogger(w io.Writer, level string) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	setLevel(lv, level)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), lv
}

func setLevel(lv *slog.LevelVar, level string) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	lv.Set(l)
}
