package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/configs"
	"github.com/bulwark-dns/bulwark/feeds"
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

// loadLists reads every list of the config into one table.
func (s *source) loadLists(ctx context.Context, logger *slog.Logger) (*blocklist.Table, []feeds.Report, error) {
	l := &feeds.Loader{BaseDir: s.baseDir, Builtin: configs.Lists(), Logger: logger}
	return l.Load(ctx, s.cfg.Blocklists, s.cfg.Allowlists)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
}
