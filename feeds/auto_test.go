package feeds

import (
	"context"
	"log/slog"
	"testing"
)

// TestParseAuto: format auto reads each line in whatever unambiguous
// syntax it is written, one row per rule.
func TestParseAuto(t *testing.T) {
	runParseCases(t, ParseAuto, []parseCase{
		{"a hosts line in a domains file is a rule", "evil.example\n0.0.0.0 hosts.example www.hosts.example\nmore.example\n",
			[]string{"evil.example", "hosts.example", "www.hosts.example", "more.example"}, nil},
		{"adblock rules and exceptions among domains", "evil.example\n||ads.example^\n@@||good.ads.example^\n! comment\n[Adblock Plus 2.0]\n",
			[]string{"evil.example", "ads.example", "@@good.ads.example"}, nil},
		{"below and comments", "*.wild.example # trailing comment\n# comment\n\n127.0.0.1 localhost\n",
			[]string{"*.wild.example"}, nil},
		{"adblock-only syntax is skipped as adblock skips it", "example.com##.ad\n/regex/\n||a.example^$third-party\n",
			nil, []string{"skip:" + ReasonCosmetic, "skip:" + ReasonRegex, "skip:" + ReasonModifier}},
		{"still rejected: ambiguous or broken lines", "two names.example here.example\nbad..example\n0.0.0.0\n",
			nil, []string{ReasonExtraFields, ReasonEmptyLabel, ReasonIPAddress}},
	})
}

// TestLoadAutoMixed: a list with format auto whose lines mix syntaxes
// loads every rule; the report names the syntax most lines use (domains).
func TestLoadAutoMixed(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "mixed.txt", "a.example\nb.example\nc.example\n0.0.0.0 d.example\n||e.example^\n")
	l := &Loader{BaseDir: dir, Logger: slog.New(slog.DiscardHandler)}
	tab, reports, err := l.Load(context.Background(), []ListConfig{{Name: "mixed", Source: "file:mixed.txt"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := reports[0]; r.Entries != 5 || r.RejectedTotal() != 0 || r.Format != FormatDomains {
		t.Errorf("report: %+v", r)
	}
	for _, n := range []string{"a.example", "d.example", "www.e.example"} {
		if m, ok := tab.Decide(n); !ok || m.Allow {
			t.Errorf("%s: not blocked", n)
		}
	}
}
