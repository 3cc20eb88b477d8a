package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/resolver/config"
	"github.com/bulwark-dns/bulwark/resolver/upstream"
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
		printReport(stdout, r)
		if src.cfg.Upstream.Mode != upstream.ModeRecursive {
			printInapplicable(stdout, r)
		}
	}
	fmt.Fprintf(stdout, "%s: OK\n", src.name)
	return 0
}

// printReport prints what one list contributed: its source, format and
// origin, its counts, the first rejected lines and the counts by reason.
// An HTTP list is not downloaded by check: its cached copy is reported, or
// that it has none.
func printReport(w io.Writer, r feeds.Report) {
	if r.Format == "" {
		fmt.Fprintf(w, "list %q (%s): not loaded: %s\n", r.List, r.Source, r.LastError)
		return
	}
	origin := ""
	if r.Origin == feeds.OriginCache {
		origin = ", cached copy of " + r.Updated.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "list %q (%s, %s%s): %d entries", r.List, r.Source, r.Format, origin, r.Entries)
	if r.Skipped > 0 {
		fmt.Fprintf(w, ", %d skipped lines", r.Skipped)
	}
	if n := r.RejectedTotal(); n > 0 {
		fmt.Fprintf(w, ", %d rejected lines", n)
	}
	for _, kind := range slices.Sorted(maps.Keys(r.Triggers)) {
		fmt.Fprintf(w, ", %d %s rules", r.Triggers[kind], kind)
	}
	if r.Approximated > 0 {
		fmt.Fprintf(w, ", %d RPZ rules answered with the nearest block", r.Approximated)
	}
	fmt.Fprintln(w)
	for _, s := range r.Samples {
		fmt.Fprintf(w, "  %v\n", s)
	}
	for _, reason := range slices.Sorted(maps.Keys(r.Rejected)) {
		fmt.Fprintf(w, "  rejected %d: %s\n", r.Rejected[reason], reason)
	}
	for _, reason := range slices.Sorted(maps.Keys(r.SkippedBy)) {
		fmt.Fprintf(w, "  skipped %d: %s\n", r.SkippedBy[reason], reason)
	}
}

// printInapplicable says which of a list's RPZ rules cannot apply in
// forwarding mode: rpz-nsdname and rpz-nsip match the authoritative
// servers a resolution asked, which a forwarder never learns.
func printInapplicable(w io.Writer, r feeds.Report) {
	ns, nsip := r.Triggers[blocklist.TriggerNSDName.String()], r.Triggers[blocklist.TriggerNSIP.String()]
	if ns+nsip == 0 {
		return
	}
	fmt.Fprintf(w, "  warning: %d rpz-nsdname and %d rpz-nsip rules cannot apply in forwarding mode (they match the authoritative servers a resolution asks; set upstream.mode: recursive); counted in bulwark_feed_rpz_triggers\n", ns, nsip)
}
