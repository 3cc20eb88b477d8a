package feeds

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/inteltest"
)

// stixBundle wraps objects in a STIX 2.1 bundle.
func stixBundle(objects ...string) string {
	return `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[` + strings.Join(objects, ",") + `]}`
}

// stixDomain is an indicator on one domain name, with indicator_types.
func stixDomain(n int, name string, types ...string) string {
	if len(types) == 0 {
		types = []string{"malicious-activity"}
	}
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000","created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z","pattern":"[domain-name:value = '%s']","pattern_type":"stix","indicator_types":["%s"],"valid_from":"2026-11-01T00:00:00Z"}`,
		n, name, strings.Join(types, `","`))
}

// mispAnswerOf is a restSearch answer of domain attributes.
func mispAnswerOf(attrs ...string) string {
	return `{"response":{"Attribute":[` + strings.Join(attrs, ",") + `]}}`
}

func mispDomain(n int, typ, value string, toIDs bool) string {
	return fmt.Sprintf(`{"id":"%d","type":"%s","to_ids":%v,"uuid":"%08d-1111-4111-8111-111111111111","timestamp":"1763900000","value":"%s","deleted":false}`, n, typ, toIDs, n, value)
}

// TestIntelFeedTrust: issue 16's feed-trust rules hold for STIX and MISP
// lists. An indicator covering a public suffix is a line error unless the
// list sets allow_broad; and nothing in a shared feed lifts another list's
// block: not a benign STIX indicator, not a MISP attribute with to_ids
// off (and a passthru override of such a list is refused: TestValidateIntel;
// the parsers never emit exceptions: FuzzSTIX, FuzzMISP).
func TestIntelFeedTrust(t *testing.T) {
	tests := []struct {
		name, format, body string
		edit               func(*ListConfig)
		blocked            map[string]bool
		rejected, skipped  map[string]int
	}{
		{name: "stix public suffixes refused", format: FormatSTIX,
			body:     stixBundle(stixDomain(1, "co.uk"), stixDomain(2, "github.io"), stixDomain(3, "bad.example")),
			blocked:  map[string]bool{"bad.example": true, "x.co.uk": false, "evil.github.io": false},
			rejected: map[string]int{ReasonBroad: 2}},
		{name: "stix allow_broad", format: FormatSTIX,
			body:    stixBundle(stixDomain(1, "co.uk"), stixDomain(2, "github.io"), stixDomain(3, "bad.example")),
			edit:    func(lc *ListConfig) { lc.AllowBroad = true },
			blocked: map[string]bool{"bad.example": true, "x.co.uk": true, "evil.github.io": true}},
		{name: "stix url on a public suffix", format: FormatSTIX,
			body:     stixBundle(strings.Replace(stixDomain(1, "x"), "[domain-name:value = 'x']", "[url:value = 'http://blogspot.com/p']", 1)),
			blocked:  map[string]bool{"blogspot.com": false},
			rejected: map[string]int{ReasonBroad: 1}},
		{name: "misp public suffix refused", format: FormatMISP,
			body:     mispAnswerOf(mispDomain(1, "domain", "com.au", true), mispDomain(2, "hostname", "bad.example", true)),
			blocked:  map[string]bool{"bad.example": true, "shop.com.au": false},
			rejected: map[string]int{ReasonBroad: 1}},
		{name: "stix benign neither blocks nor allows", format: FormatSTIX,
			body:    stixBundle(stixDomain(1, "evil.example", "benign"), stixDomain(2, "good.example", "Benign"), stixDomain(3, "bad.example")),
			blocked: map[string]bool{"evil.example": true, "good.example": false, "bad.example": true},
			skipped: map[string]int{ReasonSTIXBenign: 2}},
		{name: "misp to_ids off neither blocks nor allows", format: FormatMISP,
			body:    mispAnswerOf(mispDomain(1, "domain", "evil.example", false), mispDomain(2, "domain", "context.example", false)),
			blocked: map[string]bool{"evil.example": true, "context.example": false},
			skipped: map[string]int{ReasonMISPNotIDS: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			local, intel := writeFile(t, dir, "local.txt", "evil.example\n"), writeFile(t, dir, "intel.json", tt.body)
			lc := ListConfig{Name: "intel", Format: tt.format, Source: "file:" + intel}
			if tt.edit != nil {
				tt.edit(&lc)
			}
			tm := newTestManager(t, func(o *Options) {
				o.Blocklists = []ListConfig{lc, {Name: "local", Source: "file:" + local}}
			})
			tm.start(t)
			for name, want := range tt.blocked {
				if got := tm.blocked(name); got != want {
					t.Errorf("%s blocked = %v, want %v", name, got, want)
				}
			}
			rep := tm.Reports()[0]
			for reason, n := range tt.rejected {
				if rep.Rejected[reason] != n {
					t.Errorf("rejected as %q: %d, want %d (%v)", reason, rep.Rejected[reason], n, rep.Samples)
				}
			}
			if len(tt.rejected) == 0 && rep.RejectedTotal() != 0 {
				t.Errorf("rejected %v, want none", rep.Rejected)
			}
			for reason, n := range tt.skipped {
				if rep.SkippedBy[reason] != n {
					t.Errorf("skipped as %q: %d, want %d (%v)", reason, rep.SkippedBy[reason], n, rep.SkippedBy)
				}
			}
		})
	}
}

// TestIntelMinRatio: a shared feed that suddenly withdraws most of its
// indicators (a mass revocation, an emptied MISP feed, deleted restSearch
// attributes) is refused by min_ratio like any list, and the last good
// copy keeps blocking.
func TestIntelMinRatio(t *testing.T) {
	const n = 10
	name := func(i int) string { return fmt.Sprintf("ind%d.example", i) }
	uuid := func(i int) string { return fmt.Sprintf("%08d-2222-4222-8222-222222222222", i) }
	tests := []struct {
		name  string
		setup func(t *testing.T) (ListConfig, func())
	}{
		{"taxii mass revocation", func(t *testing.T) (ListConfig, func()) {
			srv := inteltest.NewTAXII(t)
			for i := range n {
				srv.Add(inteltest.Indicator(uuid(i), domainPattern(name(i)), "2026-11-01T00:00:00.000Z", "2026-11-01T00:00:00Z", ""))
			}
			return ListConfig{Name: "intel", Format: FormatSTIX, Source: srv.CollectionURL(), TAXII: &TAXIIConfig{}}, func() {
				for i := 1; i < n; i++ {
					srv.Add(inteltest.Revoked(uuid(i), domainPattern(name(i)), "2026-11-02T00:00:00.000Z"))
				}
			}
		}},
		{"misp feed emptied", func(t *testing.T) (ListConfig, func()) {
			srv := inteltest.NewMISP(t, "k")
			var man, attrs []string
			for i := range n {
				attrs = append(attrs, fmt.Sprintf(`{"uuid":"%s","type":"domain","value":"%s","to_ids":true}`, uuid(i+100), name(i)))
			}
			ev := `{"Event":{"uuid":"` + uuid(1) + `","Attribute":[` + strings.Join(attrs, ",") + `]}}`
			man = append(man, `"`+uuid(1)+`":{"timestamp":1}`)
			srv.SetFile(uuid(1)+".json", []byte(ev))
			srv.SetFile("manifest.json", []byte("{"+strings.Join(man, ",")+"}"))
			return ListConfig{Name: "intel", Format: FormatMISP, Source: srv.URL + "/feed/"}, func() {
				srv.SetFile("manifest.json", []byte(`{}`))
			}
		}},
		{"misp attributes deleted", func(t *testing.T) (ListConfig, func()) {
			srv := inteltest.NewMISP(t, "k")
			var attrs []string
			for i := range n {
				attrs = append(attrs, mispDomain(i, "domain", name(i), true))
			}
			srv.SetAttributes(attrs...)
			return ListConfig{Name: "intel", Format: FormatMISP, Source: srv.URL, MISP: &MISPConfig{API: true, Key: "k"}}, func() {
				gone := []string{attrs[0]}
				for i := 1; i < n; i++ {
					gone = append(gone, strings.Replace(strings.Replace(attrs[i], `"deleted":false`, `"deleted":true`, 1), "1763900000", "1763990000", 1))
				}
				srv.SetAttributes(gone...)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lc, shrink := tt.setup(t)
			tm := newTestManager(t, func(o *Options) { o.Blocklists = []ListConfig{lc} })
			tm.start(t)
			if !tm.blocked(name(n - 1)) {
				t.Fatal("the first copy is not served")
			}
			shrink()
			if err := tm.RefreshNow(t.Context()); err == nil || !strings.Contains(err.Error(), "min_ratio") {
				t.Errorf("refresh err = %v, want the min_ratio refusal", err)
			}
			for i := range n {
				if !tm.blocked(name(i)) {
					t.Errorf("%s no longer blocked after a refused copy", name(i))
				}
			}
			if r := tm.metric(t, "bulwark_feed_fetches_total", "feed", "intel", "result", "rejected"); r != 1 {
				t.Errorf("rejected fetches = %v, want 1", r)
			}
		})
	}
}
