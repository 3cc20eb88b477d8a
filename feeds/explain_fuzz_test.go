package feeds

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// FuzzMatchingAgreesWithSet checks explain's ranking against the trie's:
// for any lists and name, the first rule Rules.Matching returns is the one
// blocklist.Set.Match decides with, and Matching finds a rule exactly when
// Match does.
func FuzzMatchingAgreesWithSet(f *testing.F) {
	f.Add("evil.example\n*.wild.example\ndup.example\n", "dup.example\nevil.example\n", "good.evil.example\n",
		"$ORIGIN rpz.test.\n@ SOA ns. a. 1 2 3 4 5\nevil.example CNAME *.\n*.evil.example CNAME rpz-drop.\np.evil.example CNAME rpz-passthru.\n", "a.p.evil.example")
	f.Add("a.b\n", "[Adblock Plus 2.0]\n||a.b^\n@@||x.a.b^\n", "*.a.b\n", "", "x.a.b")
	f.Add("0.0.0.0 h.example\n", "h.example\n", "", "h.example CNAME .\n", "h.example")
	f.Fuzz(func(t *testing.T, block1, block2, allow, rpz, name string) {
		cfg := Config{}
		cfg.SetDefaults()
		blocks := []ListConfig{
			{Name: "b1", Source: "builtin:b1"},
			{Name: "b2", Source: "builtin:b2", Action: "refused"},
			{Name: "z", Source: "builtin:z", Format: FormatRPZ},
		}
		allows := []ListConfig{{Name: "a", Source: "builtin:a"}}
		specs, cats, err := buildSpecs(&cfg, blocks, allows, specEnv{})
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.DiscardHandler)
		var copies []*feedCopy
		for i, body := range []string{block1, block2, rpz, allow} {
			c, err := parseCopy(context.Background(), specs[i], strings.NewReader(body), "fuzz", log)
			if err != nil {
				copies = append(copies, nil) // e.g. an HTML page: no copy
				continue
			}
			copies = append(copies, c)
		}
		table, _, err := merge(specs, copies, cats)
		if err != nil {
			t.Skip(err)
		}
		r := &Rules{table: table, specs: specs, copies: copies}
		names := []string{name}
		for _, body := range []string{block1, block2, rpz, allow} {
			for i, w := range strings.Fields(body) {
				if i >= 8 {
					break
				}
				w = strings.TrimLeft(strings.TrimRight(w, "^."), "|@*.")
				names = append(names, w, "x."+w)
			}
		}
		for _, n := range names {
			q, err := CanonicalQuery(n)
			if err != nil {
				continue
			}
			ms := r.Matching(q)
			m, ok := table.Set.Match(q)
			if ok != (len(ms) > 0) {
				t.Fatalf("%q: Set.Match %v but Matching found %d rules", q, ok, len(ms))
			}
			if !ok {
				continue
			}
			w := ms[0]
			if w.Allow != m.Allow || w.Scope != m.Scope || w.ListIndex != int(m.Payload.List) ||
				ruleNameOf(w.Name) != m.RuleName(q) || !w.Allow && w.Action != m.Payload.Action {
				t.Fatalf("%q: Matching decides %+v, the set %+v (rule %q)", q, w, m, m.RuleName(q))
			}
		}
	})
}

func ruleNameOf(n string) string {
	if n == "" {
		return "."
	}
	return n
}
