package feeds

import (
	"slices"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

func TestParseHosts(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    []string
		reasons []string
		skipped int
	}{
		{"sinks", "0.0.0.0 a.example\n127.0.0.1 b.example\n:: c.example\n::1 d.example\n",
			[]string{"a.example", "b.example", "c.example", "d.example"}, nil, 0},
		{"other address", "192.0.2.1 a.example\n2001:db8::1 b.example\n", []string{"a.example", "b.example"}, nil, 0},
		{"several names", "0.0.0.0 a.example www.a.example\tm.a.example\n", []string{"a.example", "www.a.example", "m.a.example"}, nil, 0},
		{"tabs and spaces", "  0.0.0.0\t\ta.example  \t\n", []string{"a.example"}, nil, 0},
		{"bom crlf", "\ufeff0.0.0.0 a.example\r\n", []string{"a.example"}, nil, 0},
		{"comments", "# x\n0.0.0.0 a.example # note\n0.0.0.0 b.example#tight\n#0.0.0.0 c.example\n", []string{"a.example", "b.example"}, nil, 0},
		{"case and dot", "0.0.0.0 I2.Example.COM.\n", []string{"i2.example.com"}, nil, 0},
		{"u-label", "0.0.0.0 krakȇn.com\n", []string{"xn--krakn-f6b.com"}, nil, 0},
		{"localhost block", "127.0.0.1 localhost\n127.0.0.1\tlocalhost.localdomain\n255.255.255.255 broadcasthost\n" +
			"::1 localhost ip6-localhost ip6-loopback\nfe80::1%lo0 localhost\n0.0.0.0 0.0.0.0\n", nil, nil, 8},
		{"localhost mixed in", "127.0.0.1 LOCALHOST a.example\n", []string{"a.example"}, nil, 1},
		{"address only", "0.0.0.0\n0.0.0.0   # c\n", nil, []string{ReasonMissingName, ReasonMissingName}, 0},
		{"bad address", "999.1.1.1 a.example\na.example\nlocalhost a.example\n", nil,
			[]string{ReasonBadHostsAddr, ReasonBadHostsAddr, ReasonBadHostsAddr}, 0},
		{"wildcard", "0.0.0.0 *.a.example\n", nil, []string{ReasonWildcard}, 0},
		{"bad names", "0.0.0.0 bad..a.example -a.example http://a.example/p ok.example 1.2.3.4 single\n",
			[]string{"ok.example"}, []string{ReasonEmptyLabel, ReasonHyphen, ReasonURL, ReasonIPAddress, ReasonSingleLabel}, 0},
		{"long label", "0.0.0.0 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\n", nil, []string{ReasonLabelTooLong}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := run(ParseHosts, tt.input)
			if p.err != nil {
				t.Fatalf("error: %v", p.err)
			}
			for _, e := range p.entries {
				if e.Scope != blocklist.Subtree || e.Allow {
					t.Errorf("%s: scope %v allow %v, want subtree block", e.Name, e.Scope, e.Allow)
				}
			}
			if !slices.Equal(p.names(), tt.want) {
				t.Errorf("names = %q, want %q", p.names(), tt.want)
			}
			if !slices.Equal(p.reasons(), tt.reasons) {
				t.Errorf("reasons = %q, want %q (rejects %v)", p.reasons(), tt.reasons, p.rejects)
			}
			if p.stats.Skipped != tt.skipped {
				t.Errorf("Skipped = %d, want %d", p.stats.Skipped, tt.skipped)
			}
		})
	}
}

func TestLineErrorString(t *testing.T) {
	tests := []struct {
		e    LineError
		want string
	}{
		{LineError{List: "urlhaus", File: "file:/etc/u.txt", Line: 42, Text: "a..b", Reason: ReasonEmptyLabel},
			`feed "urlhaus": file:/etc/u.txt: line 42: invalid domain "a..b": empty label`},
		{LineError{List: "h", File: "builtin:h.txt", Line: 7, Text: "999.1.1.1 x.example", Reason: ReasonBadHostsAddr},
			`feed "h": builtin:h.txt: line 7: bad hosts address: "999.1.1.1 x.example"`},
		{LineError{Line: 1, Text: "x", Reason: ReasonSingleLabel}, `line 1: invalid domain "x": single label`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %s\nwant       %s", got, tt.want)
		}
	}
}
