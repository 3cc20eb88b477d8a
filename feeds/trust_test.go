package feeds

import (
	"context"
	"slices"
	"testing"
)

// TestAllowBroad: a rule covering a whole TLD or public suffix is a line
// error unless the list sets allow_broad, in every format and for
// exceptions and allow lists too.
func TestAllowBroad(t *testing.T) {
	tests := []struct {
		name, format, body string
		allowList, broad   bool
		want               []string // names served
		rejected           int
		reason             string // default: ReasonBroad
	}{
		{"domains com", "domains", "com\nbad.com\n", false, false, []string{"bad.com"}, 1, ReasonSingleLabel},
		{"domains co.uk", "domains", "co.uk\nbad.co.uk\n", false, false, []string{"bad.co.uk"}, 1, ""},
		{"private suffix", "domains", "github.io\nevil.github.io\n", false, false, []string{"evil.github.io"}, 1, ""},
		{"hosts line", "hosts", "0.0.0.0 co.uk bad.com\n", false, false, []string{"bad.com"}, 1, ""},
		{"adblock ||co.uk^", "adblock", "||co.uk^\n||bad.com^\n", false, false, []string{"bad.com"}, 1, ""},
		{"adblock exception", "adblock", "@@||blogspot.com^\n||bad.org^\n", false, false, []string{"bad.org"}, 1, ""},
		{"rpz *.com", "rpz", "$ORIGIN rpz.test.\n*.com CNAME .\nbad.com CNAME .\n", false, false, []string{"bad.com"}, 1, ""},
		{"rpz com", "rpz", "$ORIGIN rpz.test.\ncom CNAME .\n*.co.uk CNAME .\nx.co.uk CNAME .\n", false, false, []string{"x.co.uk"}, 2, ""},
		{"allow list", "domains", "com.au\nok.com\n", true, false, []string{"ok.com"}, 1, ""},
		{"allow_broad set", "rpz", "$ORIGIN rpz.test.\ncom CNAME .\n*.co.uk CNAME .\n", false, true, []string{"com", "co.uk"}, 0, ""},
		{"registrable name is fine", "domains", "example.co.uk\n", false, false, []string{"example.co.uk"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "l.txt", tt.body)
			lc := ListConfig{Name: "l", Source: "file:" + p, Format: tt.format, AllowBroad: tt.broad}
			o := Options{Blocklists: []ListConfig{lc}}
			if tt.allowList {
				o = Options{Allowlists: []ListConfig{lc}}
			}
			m, err := NewManager(o)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := m.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			rep := m.Reports()[0]
			reason := tt.reason
			if reason == "" {
				reason = ReasonBroad
			}
			if rep.Rejected[reason] != tt.rejected {
				t.Errorf("rejected as %s: %d, want %d (%v)", reason, rep.Rejected[reason], tt.rejected, rep.Samples)
			}
			// The compiled copy holds exactly the wanted rules: as many
			// entries, each at its name.
			var got []string
			c := m.rules.Load().copies[0]
			for _, n := range tt.want {
				if len(c.set.RulesAt(n)) > 0 {
					got = append(got, n)
				}
			}
			if !slices.Equal(got, tt.want) || c.entries != len(tt.want) {
				t.Errorf("rules %q of %d entries, want %q", got, c.entries, tt.want)
			}
			for _, s := range rep.Samples {
				if s.Reason == ReasonBroad && s.Line == 0 {
					t.Errorf("broad rule without its line: %+v", s)
				}
			}
		})
	}
}
