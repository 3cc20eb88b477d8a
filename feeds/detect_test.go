package feeds

import "testing"

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, peek, want string
	}{
		{"empty", "", FormatDomains},
		{"comments only", "# 0.0.0.0 a.example\n", FormatDomains},
		{"domains", "a.example\nb.example\n", FormatDomains},
		{"hosts", "\ufeff# hosts\n127.0.0.1 localhost\n0.0.0.0 a.example\n", FormatHosts},
		{"hosts ipv6 tabs crlf", ":: a.example\r\n::1\tlocalhost\r\n", FormatHosts},
		{"ip junk in domains", "185.156.173.87\n209.159.154.156\na.example\n", FormatDomains},
		{"mostly domains", "a.example\nb.example\n0.0.0.0 c.example\n", FormatDomains},
		{"partial last line", "0.0.0.0 a.example\n0.0.0.0 b.exa", FormatHosts},
		{"adblock header", "[Adblock Plus 2.0]\n! Title: x\na.example\nb.example\n", FormatAdblock},
		{"adblock rules", "||a.example^\n||b.example^\n@@||c.example^\n", FormatAdblock},
		{"adblock mixed with names", "||a.example^\nb.example\nc.example\nd.example\n", FormatAdblock},
		{"one stray rule in domains", "||a.example^\nb.example\nc.example\nd.example\ne.example\nf.example\n", FormatDomains},
		{"rpz directive", "; zone\n$TTL 300\n", FormatRPZ},
		{"rpz origin", "$ORIGIN rpz.example.\n", FormatRPZ},
		{"rpz records only", "a.example CNAME .\nb.example 300 IN CNAME *.\n", FormatRPZ},
		{"rpz soa", "rpz.example. IN SOA ns. admin. 1 2 3 4 5\na.example.rpz.example. CNAME .\n", FormatRPZ},
		{"hosts with a single-label", "0.0.0.0 a\n0.0.0.0 b.example\n", FormatHosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectFormat([]byte(tt.peek)); got != tt.want {
				t.Errorf("DetectFormat = %q, want %q", got, tt.want)
			}
		})
	}
}
