package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/dnstest"
	"github.com/bulwark-dns/bulwark/internal/inteltest"
	"github.com/bulwark-dns/bulwark/internal/wait"
)

// TestServeThreatIntel runs serve with a TAXII 2.1 collection and a MISP
// feed as block lists: their indicators block real DNS queries, explain
// names the indicator, and the blocks come back as STIX sightings posted
// to another TAXII collection, without client addresses.
func TestServeThreatIntel(t *testing.T) {
	up := dnstest.Start(t, dnstest.WithWildcard())
	feed := inteltest.NewTAXII(t)
	feed.Token = "feed-token"
	const ind = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	feed.Add(inteltest.Indicator(ind, "[domain-name:value = 'secure-login-bank.example']", "2026-11-20T14:01:00.000Z", "2026-11-20T14:01:00Z", ""))
	sink := inteltest.NewTAXII(t)
	sink.Username, sink.Password = "reporter", "pw"
	misp := inteltest.NewMISP(t, "k")
	misp.SetFile("manifest.json", []byte(`{"7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d": {"info": "C2", "timestamp": 1763805600}}`))
	misp.SetFile("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d.json", []byte(`{"Event": {"uuid": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
  "Attribute": [{"type": "domain|ip", "to_ids": true, "uuid": "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c", "value": "c2-alpha.example|198.51.100.99"}]}}`))
	t.Setenv("BULWARK_TEST_TAXII_TOKEN", "feed-token")

	h := newE2EHost(t)
	port, admin := h.port, h.admin
	dir := writeFiles(t, map[string]string{"bulwark.yaml": h.config(up.Addr, fmt.Sprintf(`feeds:
  cache_dir: cache
blocklists:
  - name: isac
    format: stix
    source: "%s/taxii2/"
    taxii:
      collection: "%s"
      token: "${BULWARK_TEST_TAXII_TOKEN}"
  - name: cert
    format: misp
    source: "%s/feed/"
sightings:
  interval: 1s
  identity: identity--0d4c1a2b-3e4f-4a5b-8c6d-7e8f9a0b1c2d
  dir: sightings
  taxii:
    collection: "%s"
    username: reporter
    password: pw
`, feed.URL, feed.Title, misp.URL, sink.CollectionURL()))})
	p := serveInProcess(t, filepath.Join(dir, "bulwark.yaml"))
	waitReady(t, admin, "/readyz")

	for name, want := range map[string]int{
		"secure-login-bank.example":     dns.RcodeNameError,
		"www.secure-login-bank.example": dns.RcodeNameError,
		"c2-alpha.example":              dns.RcodeNameError,
		"benign.example":                dns.RcodeSuccess,
	} {
		if got := rcode(t, port, name); got != want {
			t.Errorf("%s: rcode %s, want %s", name, dns.RcodeToString[got], dns.RcodeToString[want])
		}
	}
	rcode(t, port, "secure-login-bank.example")

	_, body := adminGet(t, admin, "/explain?name=secure-login-bank.example")
	if !strings.Contains(body, `"indicator": "indicator--`+ind+`"`) {
		t.Errorf("explain does not name the indicator:\n%s", body)
	}

	wait.For(t, "the sighting at the TAXII collection", func() bool { return len(sink.Posted()) > 0 })
	var s struct {
		Type          string   `json:"type"`
		Count         int      `json:"count"`
		SightingOfRef string   `json:"sighting_of_ref"`
		Where         []string `json:"where_sighted_refs"`
	}
	raw := sink.Posted()[0]
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	// The three blocks may straddle a report; the first names the indicator.
	if s.Type != "sighting" || s.SightingOfRef != "indicator--"+ind || s.Count < 1 || len(s.Where) != 1 {
		t.Errorf("sighting = %s", raw)
	}
	if strings.Contains(string(raw), "127.0.0.1") {
		t.Errorf("a client address left: %s", raw)
	}
	p.stop(t)
	total := 0
	for _, raw := range sink.Posted() {
		_ = json.Unmarshal(raw, &s)
		total += s.Count
	}
	if total != 3 {
		t.Errorf("sighting counts add up to %d, want the 3 blocked queries", total)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sightings", "sightings-*.json"))
	if len(files) == 0 {
		t.Error("no bundle written to sightings.dir")
	}
}
