package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/bulwark-dns/bulwark/internal/config"
)

// checkCmd validates a config and its local lists, printing every problem.
// It exits 1 if the config cannot be served, 0 otherwise (rejected lines in
// a list are reported but, as when serving, not fatal).
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, _, err := parseFlags("check", args, stderr)
	if err != nil {
		return 2
	}
	src, err := loadConfig(f.config)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "%d error(s)\n", len(errs))
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	_, reports, err := src.loadLists(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", src.name, err)
		return 1
	}
	for _, r := range reports {
		fmt.Fprintf(stdout, "list %q (%s, %s): %d entries", r.List, r.Source, r.Format, r.Entries)
		if n := rejected(r.Rejected); n > 0 {
			fmt.Fprintf(stdout, ", %d rejected lines", n)
		}
		fmt.Fprintln(stdout)
		for _, s := range r.Samples {
			fmt.Fprintf(stdout, "  %v\n", s)
		}
		reasons := make([]string, 0, len(r.Rejected))
		for reason := range r.Rejected {
			reasons = append(reasons, reason)
		}
		sort.Strings(reasons)
		for _, reason := range reasons {
			fmt.Fprintf(stdout, "  rejected %d: %s\n", r.Rejected[reason], reason)
		}
	}
	fmt.Fprintf(stdout, "%s: OK\n", src.name)
	return 0
}

func rejected(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
