package feeds

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/blocklist"
)

func TestParseDomains(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    []string // accepted names, in order; "*." prefix marks Below scope
		reasons []string // reject reasons, in order
	}{
		{"plain", "evil.example\nbad.example\n", []string{"evil.example", "bad.example"}, nil},
		{"no final newline", "evil.example", []string{"evil.example"}, nil},
		{"bom", "\ufeffevil.example\n", []string{"evil.example"}, nil},
		// UTS #46 maps a stray U+FEFF (e.g. from concatenated files) to nothing.
		{"bom mid-file", "a.example\n\ufeffb.example\n", []string{"a.example", "b.example"}, nil},
		{"crlf", "a.example\r\nb.example\r\n\r\n", []string{"a.example", "b.example"}, nil},
		{"comments", "# title\n  # indented\na.example # trailing\nb.example#tight\n#c.example\n", []string{"a.example", "b.example"}, nil},
		{"blank and spaces", "\n   \n\t a.example \t\n", []string{"a.example"}, nil},
		{"upper case", "EVIL.Example\n", []string{"evil.example"}, nil},
		{"trailing dot", "evil.example.\n", []string{"evil.example"}, nil},
		{"two trailing dots", "evil.example..\n", nil, []string{ReasonEmptyLabel}},
		{"underscore", "ether_promo.kissr.com\n", []string{"ether_promo.kissr.com"}, nil},
		{"wildcard", "*.evil.example\n*.EVIL.example.\n", []string{"*.evil.example", "*.evil.example"}, nil},
		{"wildcard inside", "a.*.example\n*.*.example\n", nil, []string{ReasonInvalidChar, ReasonInvalidChar}},
		{"wildcard tld", "*.com\n", nil, []string{ReasonSingleLabel}},
		{"u-label", "bücher.example\nmyetherwallet.cоm\n", []string{"xn--bcher-kva.example", "myetherwallet.xn--cm-fmc"}, nil},
		{"u-label upper case", "BÜCHER.example\n", []string{"xn--bcher-kva.example"}, nil},
		{"ideographic dot", "bücher。example\n", []string{"xn--bcher-kva.example"}, nil},
		{"a-label upper", "XN--BCHER-KVA.EXAMPLE\n", []string{"xn--bcher-kva.example"}, nil},
		{"single label", "localhost\ncom\n", nil, []string{ReasonSingleLabel, ReasonSingleLabel}},
		{"root", ".\n", nil, []string{ReasonEmptyName}},
		{"ipv4", "185.156.173.87\n", nil, []string{ReasonIPAddress}},
		{"bad ipv4", "999.1.1.1\n", nil, []string{ReasonIPAddress}},
		{"numeric tld", "evil.123\n", nil, []string{ReasonNumericTLD}},
		{"ipv6", "2001:db8::1\n", nil, []string{ReasonIPAddress}},
		{"cidr", "10.0.0.0/8\n", nil, []string{ReasonIPAddress}},
		{"url", "http://evil.example/x\nevil.example/path\n", nil, []string{ReasonURL, ReasonURL}},
		{"empty label", "a..b.example\n.a.example\n", nil, []string{ReasonEmptyLabel, ReasonEmptyLabel}},
		{"hyphens", "-a.example\na-.example\n", nil, []string{ReasonHyphen, ReasonHyphen}},
		{"bad chars", "a!b.example\nhost:port.example\nä\x00.example\n", nil, []string{ReasonInvalidChar, ReasonInvalidChar, ReasonInvalidChar}},
		{"invalid utf-8", "\xff\xfe.example\n", nil, []string{ReasonIDNA}},
		{"label too long", strings.Repeat("a", 64) + ".example\n" + strings.Repeat("a", 63) + ".example\n",
			[]string{strings.Repeat("a", 63) + ".example"}, []string{ReasonLabelTooLong}},
		{"name too long", strings.Repeat("abcdefghi.", 26) + "example\n", nil, []string{ReasonNameTooLong}},
		{"extra fields", "0.0.0.0 evil.example\na.example b.example\n", nil, []string{ReasonExtraFields, ReasonExtraFields}},
		{"over-long line", strings.Repeat("a", MaxLineLen+10) + "\nok.example\n", []string{"ok.example"}, []string{ReasonLineTooLong}},
		{"over-long last line", "ok.example\n" + strings.Repeat("a", 2*MaxLineLen), []string{"ok.example"}, []string{ReasonLineTooLong}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := run(ParseDomains, tt.input)
			if p.err != nil {
				t.Fatalf("error: %v", p.err)
			}
			var got []string
			for _, e := range p.entries {
				n := e.Name
				if e.Scope == blocklist.Below {
					n = "*." + n
				} else if e.Scope != blocklist.Subtree {
					t.Errorf("%s: scope %v", e.Name, e.Scope)
				}
				got = append(got, n)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("names = %q, want %q", got, tt.want)
			}
			if !slices.Equal(p.reasons(), tt.reasons) {
				t.Errorf("reasons = %q, want %q (rejects %v)", p.reasons(), tt.reasons, p.rejects)
			}
		})
	}
}

func TestParseDomainsLineNumbers(t *testing.T) {
	p := run(ParseDomains, "# c\r\n\r\na.example\r\nbad..example\r\nb.example")
	if len(p.entries) != 2 || p.entries[0].Line != 3 || p.entries[1].Line != 5 {
		t.Errorf("entries = %+v, want lines 3 and 5", p.entries)
	}
	if len(p.rejects) != 1 || p.rejects[0].Line != 4 || p.rejects[0].Text != "bad..example" {
		t.Errorf("rejects = %+v, want line 4", p.rejects)
	}
	if p.stats.Lines != 5 {
		t.Errorf("Lines = %d, want 5", p.stats.Lines)
	}
}
