package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// explainCmd says which rule of which list decides a name, and which other
// rules matched but lost.
func explainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, fs, err := parseFlags("explain", args, stderr)
	if err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "bulwark explain: give exactly one NAME")
		return 2
	}
	name := fs.Arg(0)
	src, err := loadConfig(f.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	table, _, err := src.loadLists(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprint(stdout, explain(table, name))
	return 0
}

// explain renders the decision for name against table.
func explain(t *blocklist.Table, name string) string {
	var matches []blocklist.Match
	t.Set.Walk(name, func(m blocklist.Match) { matches = append(matches, m) })
	if len(matches) == 0 {
		return fmt.Sprintf("%s: resolved normally (no rule matches)\n", name)
	}
	describe := func(m blocklist.Match) string {
		list := "?"
		if int(m.Payload.List) < len(t.Lists) {
			list = t.Lists[m.Payload.List].Name
		}
		verb := "allow"
		if !m.Allow {
			verb = "block (" + m.Payload.Action.String() + ")"
		}
		return fmt.Sprintf("%s by list %q, rule %q (%s)", verb, list, m.RuleText(name), m.Scope)
	}
	out := ""
	decided, _ := t.Set.Match(name)
	if decided.Allow {
		out += fmt.Sprintf("%s: resolved normally: %s\n", name, describe(decided))
	} else {
		out += fmt.Sprintf("%s: blocked: %s\n", name, describe(decided))
	}
	for _, m := range matches {
		if m == decided {
			continue
		}
		out += fmt.Sprintf("  also matched, lost: %s\n", describe(m))
	}
	return out
}
