package resolver_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver"
)

// TestDoHGetSizeLimit: a GET's dns parameter is bounded as a POST body is
// (one DNS message, 64 KiB); a larger one is refused with 414 before it
// reaches the chain, and an ordinary GET is still answered.
func TestDoHGetSizeLimit(t *testing.T) {
	cert := newTestCert(t, t.TempDir())
	e, _, doh := startEncrypted(t, cert, resolver.GuardConfig{})
	hc := dohClient(cert)
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	w, _ := m.Pack()
	for _, tc := range []struct {
		name   string
		pad    int // junk bytes after the query
		status int
	}{
		{"ordinary", 0, http.StatusOK},
		{"just under 64 KiB", dns.MaxMsgSize - len(w), http.StatusOK},
		{"one byte over", dns.MaxMsgSize - len(w) + 1, http.StatusRequestURITooLong},
		{"660 KB", 660_000, http.StatusRequestURITooLong},
	} {
		before := e.ups[0].Count()
		q := base64.RawURLEncoding.EncodeToString(append(w, make([]byte, tc.pad)...))
		resp, err := hc.Get("https://" + doh + "/dns-query?dns=" + q)
		switch {
		case err != nil && tc.status == http.StatusOK:
			t.Fatalf("%s: %.200v", tc.name, err)
		case err != nil:
			// Past the server's header limit (advertised in HTTP/2
			// SETTINGS), the client itself gives up: refused too.
		default:
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: HTTP %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
		}
		if tc.status != http.StatusOK && e.ups[0].Count() != before {
			t.Errorf("%s: the oversized query reached the upstream", tc.name)
		}
	}
}
