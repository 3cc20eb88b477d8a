package feeds

import (
	"slices"
	"strings"
	"testing"
)

const rpzHead = "$TTL 300\n$ORIGIN rpz.example.\n@ IN SOA ns.rpz.example. admin.rpz.example. (1 3600 600 86400 300)\n  IN NS ns.rpz.example.\n"

func TestParseRPZ(t *testing.T) {
	tests := []parseCase{
		{"actions", rpzHead + "a.example CNAME .\nb.example CNAME *.\nc.example CNAME rpz-passthru.\nd.example CNAME rpz-drop.\n",
			[]string{"=a.example!nxdomain", "=b.example!nodata", "@@=c.example", "=d.example!drop"}, nil},
		{"wildcard", rpzHead + "*.a.example CNAME .\na.example CNAME .\n", []string{"*.a.example!nxdomain", "=a.example!nxdomain"}, nil},
		{"ttl and class in either order", rpzHead + "a.example 60 IN CNAME .\nb.example IN 1h CNAME .\nc.example in cname .\n",
			[]string{"=a.example!nxdomain", "=b.example!nxdomain", "=c.example!nxdomain"}, nil},
		{"absolute owners", rpzHead + "a.example.rpz.example. CNAME .\nB.EXAMPLE.RPZ.EXAMPLE. CNAME .\nx.other. CNAME .\n",
			[]string{"=a.example!nxdomain", "=b.example!nxdomain"}, []string{ReasonRPZOutOfZone}},
		{"local data", rpzHead + "a.example A 192.0.2.1\n A 192.0.2.2\na.example AAAA 2001:db8::1\nb.example TXT \"x; y\"\nc.example A 192.0.2.3\nc.example MX 10 mail\n",
			[]string{"=a.example!sinkhole[192.0.2.1][192.0.2.2][2001:db8::1]", `=b.example!local-data[TXT "x; y"]`,
				"=c.example!local-data[192.0.2.3][MX 10 mail.rpz.example.]"}, nil},
		{"walled garden", rpzHead + "a.example CNAME garden.example.\nb.example CNAME garden\nc.example CNAME *.garden.example.\n",
			[]string{"=a.example!local-data[CNAME garden.example.]", "=b.example!local-data[CNAME garden.rpz.example.]",
				"=c.example!local-data[CNAME *.garden.example.]"}, nil},
		{"tcp-only", rpzHead + "a.example CNAME rpz-tcp-only.\n", []string{"=a.example!tcp-only"}, nil},
		{"legacy passthru", rpzHead + "www.a.example CNAME www.a.example.\n", []string{"@@=www.a.example"}, nil},
		{"triggers", rpzHead + "32.1.2.0.192.rpz-ip CNAME .\nns.x.rpz-nsdname CNAME .\n*.ns.y.rpz-nsdname CNAME rpz-drop.\n24.0.2.0.192.rpz-nsip CNAME .\n" +
			"32.1.2.0.192.rpz-client-ip CNAME rpz-passthru.\n8.0.0.0.10.rpz-client-ip CNAME rpz-tcp-only.\n" +
			"48.zz.1.db8.2001.rpz-ip CNAME *.\n128.1.zz.db8.2001.rpz-client-ip A 192.0.2.9\n64.zz.2001.rpz-ip CNAME .\n",
			[]string{"rpz-ip:192.0.2.1/32!nxdomain", "rpz-nsdname:=ns.x!nxdomain", "rpz-nsdname:*.ns.y!drop", "rpz-nsip:192.0.2.0/24!nxdomain",
				"@@rpz-client-ip:192.0.2.1/32", "rpz-client-ip:10.0.0.0/8!tcp-only", "rpz-ip:2001:db8:1::/48!nodata",
				"rpz-client-ip:2001:db8::1/128!sinkhole[192.0.2.9]", "rpz-ip:2001::/64!nxdomain"}, nil},
		{"bad address triggers", rpzHead + "33.1.2.0.192.rpz-ip CNAME .\n24.2.0.192.rpz-ip CNAME .\nx.1.2.0.192.rpz-ip CNAME .\n" +
			"24.0.2.0.300.rpz-client-ip CNAME .\n129.zz.rpz-nsip CNAME .\n024.0.2.0.192.rpz-ip CNAME .\n",
			nil, []string{ReasonRPZPrefix, ReasonRPZPrefix, ReasonRPZPrefix, ReasonRPZPrefix, ReasonRPZPrefix, ReasonRPZPrefix}},
		{"single label trigger", rpzHead + "*.zip CNAME .\n", []string{"*.zip!nxdomain"}, nil},
		{"root wildcard refused", rpzHead + "* CNAME .\n", nil, []string{ReasonRPZRootPolicy}},
		{"no origin", "evil.example CNAME .\n*.bad.example. CNAME *.\n", []string{"=evil.example!nxdomain", "*.bad.example!nodata"}, nil},
		{"soa sets the origin", "rpz.example. 300 IN SOA ns. admin. 1 2 3 4 5\na.example.rpz.example. CNAME .\nb CNAME .\n",
			[]string{"=a.example!nxdomain", "=b!nxdomain"}, nil},
		{"origin switches", rpzHead + "a.example CNAME .\n$ORIGIN other.rpz.example.\nb CNAME .\n@ CNAME .\n",
			[]string{"=a.example!nxdomain", "=b.other!nxdomain", "=other!nxdomain"}, nil},
		{"u-label and case", rpzHead + "BÜCHER.example CNAME .\n", []string{"=xn--bcher-kva.example!nxdomain"}, nil},
		{"conflicts", rpzHead + "a.example CNAME .\na.example A 192.0.2.1\nb.example CNAME .\nb.example CNAME *.\n", nil,
			[]string{ReasonRPZConflict, ReasonRPZConflict}},
		{"bad rdata", rpzHead + "a.example A 2001:db8::1\nb.example AAAA nope\nc.example CNAME\nd.example A 192.0.2.1\n",
			[]string{"=d.example!sinkhole[192.0.2.1]"}, []string{ReasonRPZRdata, ReasonRPZRdata, ReasonRPZRdata}},
		{"bad records", rpzHead + "a.example CH CNAME .\nb.example FOO .\nc.example\n$INCLUDE /etc/passwd\n$GENERATE 1-2 x$ CNAME .\n$BOGUS\n)\n", nil,
			[]string{ReasonRPZClass, ReasonRPZSyntax, ReasonRPZSyntax, ReasonRPZDirective, ReasonRPZDirective, ReasonRPZSyntax, ReasonRPZSyntax}},
		{"bad names", rpzHead + "bad..name CNAME .\n-a.example CNAME .\na\\.b.example CNAME .\n", nil,
			[]string{ReasonEmptyLabel, ReasonHyphen, ReasonInvalidChar}},
		{"unterminated", rpzHead + "a.example TXT \"open\nb.example CNAME ( .\n", nil, []string{ReasonRPZSyntax, ReasonRPZSyntax}},
		{"blank owner first", "  CNAME .\n", nil, []string{ReasonRPZSyntax}},
		{"generic type", rpzHead + "a.example TYPE65280 \\# 0\n", []string{`=a.example!local-data[TYPE65280 \# 0]`}, nil},
	}
	runParseCases(t, ParseRPZ, tests)
}

func TestParseRPZLines(t *testing.T) {
	in := "$ORIGIN rpz.example.\n@ SOA ns. admin. (\n 1 ; serial\n 2 3 4 5 )\n\na.example CNAME .\r\nbad..x CNAME .\nb.example A 192.0.2.1\n AAAA 2001:db8::1\n"
	p := run(ParseRPZ, in)
	if got := describe(p.entries); !slices.Equal(got, []string{"=a.example!nxdomain", "=b.example!sinkhole[192.0.2.1][2001:db8::1]"}) {
		t.Fatalf("entries = %q", got)
	}
	if p.entries[0].Line != 6 || p.entries[1].Line != 8 || len(p.rejects) != 1 || p.rejects[0].Line != 7 || p.stats.Lines != 9 {
		t.Errorf("lines: entries %+v rejects %+v stats %+v", p.entries, p.rejects, p.stats)
	}
	if !strings.Contains(p.rejects[0].Error(), `line 7: invalid domain "bad..x": empty label`) {
		t.Errorf("Error() = %q", p.rejects[0].Error())
	}
}
