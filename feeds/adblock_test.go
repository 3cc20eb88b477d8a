package feeds

import (
	"github.com/miekg/dns"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// describe renders entries compactly: "@@" marks allow, "*." Below scope,
// "=" Exact scope, and "!action" / "[addrs]" an entry's own answer.
func describe(es []Entry) []string {
	var out []string
	for _, e := range es {
		s := e.Name
		switch e.Scope {
		case blocklist.Below:
			s = "*." + s
		case blocklist.Exact:
			s = "=" + s
		}
		switch e.Trigger {
		case blocklist.TriggerQName:
		case blocklist.TriggerNSDName:
			s = e.Trigger.String() + ":" + s
		default:
			s = e.Trigger.String() + ":" + e.Prefix.String()
		}
		if e.Allow {
			s = "@@" + s
		}
		if e.HasAction {
			s += "!" + e.Action.String()
		}
		for _, a := range e.Addrs {
			s += "[" + a.String() + "]"
		}
		for _, l := range e.Local {
			s += "[" + dns.Type(l.Type).String() + " " + l.Data + "]"
		}
		out = append(out, s)
	}
	return out
}

// skipsAndRejects splits rejections into "skip:reason" and "reason".
func skipsAndRejects(rs []LineError) []string {
	var out []string
	for _, r := range rs {
		if r.Skipped {
			out = append(out, "skip:"+r.Reason)
		} else {
			out = append(out, r.Reason)
		}
	}
	return out
}

func TestParseAdblock(t *testing.T) {
	tests := []parseCase{
		{"basic", "||evil.example^\n", []string{"evil.example"}, nil},
		{"header and comments", "[Adblock Plus 2.0]\n! Title: x\n# hosts comment\n!\n||a.example^\n", []string{"a.example"}, nil},
		{"separators", "||a.example^|\n||b.example\n||c.example^$important\n||d.example^$all,important\n||e.example^$doc\n",
			[]string{"a.example", "b.example", "c.example", "d.example", "e.example"}, nil},
		{"exception", "@@||good.example^\n@@||ok.example^$important\n", []string{"@@good.example", "@@ok.example"}, nil},
		{"case, spaces, crlf, bom", "\ufeff  ||EVIL.Example^  \r\n", []string{"evil.example"}, nil},
		{"u-label", "||bücher.example^\n", []string{"xn--bcher-kva.example"}, nil},
		{"bare and wildcard lines", "plain.example\n*.wild.example\n", []string{"plain.example", "*.wild.example"}, nil},
		{"hosts lines", "0.0.0.0 a.example b.example\n127.0.0.1 localhost\n", []string{"a.example", "b.example"}, nil},
		{"cosmetic", "example.com##.ad\n##.popup\n#@#.ad\nexample.com#?#div:has(a)\nexample.com#$#body{}\nexample.com$$script\n", nil,
			[]string{"skip:" + ReasonCosmetic, "skip:" + ReasonCosmetic, "skip:" + ReasonCosmetic, "skip:" + ReasonCosmetic, "skip:" + ReasonCosmetic, "skip:" + ReasonCosmetic}},
		{"url patterns", "||a.example/path\n|https://a.example^\n/banner/\n", nil,
			[]string{"skip:" + ReasonURLPattern, "skip:" + ReasonURLPattern, "skip:" + ReasonRegex}},
		{"regex", "/^ad[0-9]+\\.example$/\n", nil, []string{"skip:" + ReasonRegex}},
		{"modifiers", "||a.example^$third-party\n||b.example^$domain=c.example\n||d.example^$dnstype=AAAA\n||e.example^$important,script\n", nil,
			[]string{"skip:" + ReasonModifier, "skip:" + ReasonModifier, "skip:" + ReasonModifier, "skip:" + ReasonModifier}},
		{"wildcard patterns", "||ads*.example^\n||*.example^\n", nil, []string{"skip:" + ReasonPattern, "skip:" + ReasonPattern}},
		{"malformed", "||^\n||a..b^\n||-a-.example^\n@@\n||a.example b.example^\n||single^\n", nil,
			[]string{ReasonEmptyName, ReasonEmptyLabel, ReasonHyphen, ReasonMissingName, ReasonExtraFields, ReasonSingleLabel}},
		{"ip rule", "||185.156.173.87^\n", nil, []string{ReasonIPAddress}},
		{"over-long line", strings.Repeat("a", MaxLineLen+1) + "\n||ok.example^\n", []string{"ok.example"}, []string{ReasonLineTooLong}},
	}
	runParseCases(t, ParseAdblock, tests)
}

func TestParseAdblockLines(t *testing.T) {
	p := run(ParseAdblock, "! c\n||a.example^\n\n||b..example^\n")
	if len(p.entries) != 1 || p.entries[0].Line != 2 || len(p.rejects) != 1 || p.rejects[0].Line != 4 || p.stats.Lines != 4 {
		t.Errorf("entries %+v rejects %+v stats %+v", p.entries, p.rejects, p.stats)
	}
	want := `line 4: invalid domain "b..example": empty label`
	if got := p.rejects[0].Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	s := run(ParseAdblock, "##.ad\n").rejects[0]
	if got := s.Error(); got != `line 1: skipped (cosmetic rule): "##.ad"` {
		t.Errorf("skip Error() = %q", got)
	}
}
