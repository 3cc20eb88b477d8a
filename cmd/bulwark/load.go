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
	"github.com/bulwark-dns/bulwark/internal/config"
)

// flags are the options every subcommand shares.
type flags struct {
	config string
}

func parseFlags(name string, args []string, stderr io.Writer) (*flags, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	fs.StringVar(&f.config, "config", "", "config file (default: the embedded default config)")
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
func (s *source) loadLists(ctx context.Context, logger *slog.Logger) (*blocklist.Table, []feeds.Report, error) {
	l := &feeds.Loader{BaseDir: s.baseDir, Builtin: configs.Lists(), Feeds: s.cfg.Feeds, Logger: logger}
	return l.Load(ctx, s.cfg.Blocklists, s.cfg.Allowlists)
}

// newManager builds the list manager of serve: it loads, refreshes and
// publishes the lists into tables.
func (s *source) newManager(logger *slog.Logger, m *feeds.Metrics, tables *atomic.Pointer[blocklist.Table]) (*feeds.Manager, error) {
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
	})
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}
