package feeds

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-dns/bulwark/internal/testfile"
)

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b := testfile.Read(t, "testdata/intel/"+name)
	return string(b)
}

// describeIntel renders entries with their indicator: "name@ref".
func describeIntel(es []Entry) []string {
	var out []string
	for i, d := range describe(es) {
		if r := es[i].Intel; r != nil {
			d += "@" + r.String()
		}
		out = append(out, d)
	}
	return out
}

func TestParseSTIXBundle(t *testing.T) {
	p := run(ParseSTIX, readFixture(t, "stix-bundle.json"))
	if p.err != nil {
		t.Fatal(p.err)
	}
	want := []string{
		"secure-login-bank.example@indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"=cdn.payload-drop.example@indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f",
		"c2-alpha.example@indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
		"c2-beta.example@indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
		"=c2-gamma.example@indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
		"mixed.example@indicator--1ed8caa7-a708-4706-b651-f1186ede6ca1",
		"new-version.example@indicator--7f3e2d1c-0b9a-4876-a543-210fedcba987", // the newer version replaces the older
		"short-lived.example@indicator--5c4b3a29-1807-4f6e-9d5c-4b3a29180706",
	}
	if got := describeIntel(p.entries); !slices.Equal(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	wantRej := []string{"skip:" + ReasonSTIXObjectPath, "skip:" + ReasonSTIXAnd, "skip:" + ReasonSTIXFollowedBy,
		"skip:" + ReasonSTIXQualifier, "skip:" + ReasonSTIXPatternType, "skip:" + ReasonRevoked}
	if got := skipsAndRejects(p.rejects); !slices.Equal(got, wantRej) {
		t.Errorf("rejects = %q, want %q", got, wantRej)
	}
	if p.stats.Lines != 15 {
		t.Errorf("lines (objects) = %d, want 15", p.stats.Lines)
	}
	// Validity and tags travel with the rule.
	last := p.entries[len(p.entries)-1].Intel
	if !last.NotBefore.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) || !last.NotAfter.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("validity = %v..%v", last.NotBefore, last.NotAfter)
	}
	if first := p.entries[0].Intel; !slices.Equal(first.Tags, []string{"phishing", "malicious-activity"}) || p.entries[0].Line != 2 {
		t.Errorf("first: tags %q line %d", first.Tags, p.entries[0].Line)
	}
}

func TestParseSTIXCases(t *testing.T) {
	ind := func(extra string) string {
		return `{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern_type":"stix",` + extra + `}]}`
	}
	tests := []parseCase{
		{"taxii envelope", `{"more":false,"objects":[{"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'a.example']"}]}`,
			[]string{"a.example"}, nil},
		{"no objects", `{"type":"bundle","id":"bundle--1"}`, nil, nil},
		{"null objects", `{"type":"bundle","objects":null}`, nil, nil},
		{"url without scheme", ind(`"pattern":"[url:value = 'evil.example/x']"`), []string{"=evil.example"}, nil},
		{"url on an address", ind(`"pattern":"[url:value = 'http://198.51.100.1/x']"`), nil, []string{"skip:" + ReasonIPAddress}},
		{"url unparsable", ind(`"pattern":"[url:value = 'http://[::1']"`), nil, []string{ReasonURL}},
		{"bad domain", ind(`"pattern":"[domain-name:value = 'a..example']"`), nil, []string{ReasonEmptyLabel}},
		{"unicode domain", ind(`"pattern":"[domain-name:value = 'bücher.example']"`), []string{"xn--bcher-kva.example"}, nil},
		{"bad pattern", ind(`"pattern":"[domain-name:value = "`), nil, []string{ReasonSTIXSyntax}},
		{"no pattern", ind(`"name":"x"`), nil, []string{ReasonSTIXBadObject}},
		{"wrong types", `{"objects":[{"type":"indicator","id":7}]}`, nil, []string{ReasonSTIXBadObject}},
		{"bad valid_until", ind(`"pattern":"[domain-name:value = 'a.example']","valid_until":"tomorrow"`), nil, []string{ReasonSTIXTimestamp}},
		{"until before from", ind(`"pattern":"[domain-name:value = 'a.example']","valid_from":"2026-01-02T00:00:00Z","valid_until":"2026-01-01T00:00:00Z"`),
			nil, []string{ReasonSTIXTimestamp}},
		{"sigma", ind(`"pattern":"title: x","pattern_type":"sigma"`), nil, []string{"skip:" + ReasonSTIXPatternType}},
	}
	runParseCases(t, ParseSTIX, tests)
}

// TestParseSTIXBroken: a document that is not a bundle, or is cut short,
// fails the copy (the last good one stays) instead of yielding a part.
func TestParseSTIXBroken(t *testing.T) {
	full := readFixture(t, "stix-bundle.json")
	for name, in := range map[string]string{
		"truncated": full[:len(full)/2],
		"array":     `[{"type":"indicator"}]`,
		"objects":   `{"objects":{"a":1}}`,
		"garbage":   `{"objects":[{"type":"indicator",]}`,
		"empty":     ``,
	} {
		if p := run(ParseSTIX, in); p.err == nil {
			t.Errorf("%s: no error (entries %q)", name, p.names())
		}
	}
}

func TestParseMISPFeedEvents(t *testing.T) {
	in := readFixture(t, "misp-feed/5f1c4a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b.json") + "\n" +
		readFixture(t, "misp-feed/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d.json")
	p := run(ParseMISP, in)
	if p.err != nil {
		t.Fatal(p.err)
	}
	const ev1, ev2 = "5f1c4a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	want := []string{
		"secure-login-bank.example@MISP event " + ev1 + " attribute b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
		"=account-verify.example@MISP event " + ev1 + " attribute c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f",
		"bank-support-chat.example@MISP event " + ev1 + " attribute 1b2c3d4e-5f6a-4b7c-8d8e-9f0a1b2c3d4e",
		"c2-alpha.example@MISP event " + ev2 + " attribute 5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c",
		"=beacon.c2-beta.example@MISP event " + ev2 + " attribute 6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d",
	}
	if got := describeIntel(p.entries); !slices.Equal(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	wantRej := []string{"skip:" + ReasonMISPNotIDS, "skip:" + ReasonMISPDeleted, "skip:" + ReasonMISPType, "skip:" + ReasonMISPType,
		"skip:" + ReasonMISPType, "skip:" + ReasonMISPDeleted, ReasonEmptyLabel}
	if got := skipsAndRejects(p.rejects); !slices.Equal(got, wantRej) {
		t.Errorf("rejects = %q, want %q", got, wantRej)
	}
	if p.stats.Lines != 12 {
		t.Errorf("lines (attributes) = %d, want 12", p.stats.Lines)
	}
	// Attribute tags come before event tags.
	if got := p.entries[0].Intel.Tags; !slices.Equal(got, []string{"phishing", "tlp:green", `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`}) {
		t.Errorf("tags = %q", got)
	}
}

func TestParseMISPRestSearch(t *testing.T) {
	p := run(ParseMISP, readFixture(t, "misp-restsearch.json"))
	if p.err != nil {
		t.Fatal(p.err)
	}
	const ev = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
	want := []string{
		"invoice-portal.example@MISP event " + ev + " attribute 8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f",
		"=pay-now.example@MISP event " + ev + " attribute 0e1f2a3b-4c5d-4e6f-9a7b-8c9d0e1f2a3b",
	}
	if got := describeIntel(p.entries); !slices.Equal(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	if got := skipsAndRejects(p.rejects); !slices.Equal(got, []string{"skip:" + ReasonIPAddress}) {
		t.Errorf("rejects = %q", got)
	}
}

func TestParseMISPCases(t *testing.T) {
	attr := func(typ, value, extra string) string {
		return `{"Attribute":[{"type":"` + typ + `","value":"` + value + `","to_ids":true,"uuid":"u1"` + extra + `}]}`
	}
	tests := []parseCase{
		{"bare attribute list", attr("domain", "a.example", ""), []string{"a.example"}, nil},
		{"events answer", `{"response":[{"Event":{"uuid":"e","Attribute":[{"type":"hostname","value":"h.example","to_ids":true}]}}]}`,
			[]string{"=h.example"}, nil},
		{"string booleans", attr("domain", "a.example", `,"deleted":"1"`), nil, []string{"skip:" + ReasonMISPDeleted}},
		{"to_ids 0", `{"Attribute":[{"type":"domain","value":"a.example","to_ids":0}]}`, nil, []string{"skip:" + ReasonMISPNotIDS}},
		{"domain|ip without ip", attr("domain|ip", "a.example", ""), []string{"a.example"}, nil},
		{"bad boolean", attr("domain", "a.example", `,"deleted":"maybe"`), nil, []string{ReasonMISPBad}},
		{"not misp", `{"hello":"world"}`, nil, []string{ReasonMISPBad}},
		{"several documents", attr("domain", "a.example", "") + attr("domain", "b.example", ""), []string{"a.example", "b.example"}, nil},
		{"empty", ``, nil, nil},
	}
	runParseCases(t, ParseMISP, tests)
	if p := run(ParseMISP, `{"Event": {"Attribute": [`); p.err == nil {
		t.Error("truncated event: no error")
	}
}

// TestIntelLive: liveAt keeps exactly the rules valid at a time, and
// nextChange names the next instant the set changes.
func TestIntelLive(t *testing.T) {
	sp := &feedSpec{cfg: ListConfig{Name: "x", Format: FormatSTIX}}
	c, err := parseCopy(t.Context(), sp, strings.NewReader(readFixture(t, "stix-bundle.json")), "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	names := func(c *feedCopy) []string {
		var out []string
		for i := range c.rules.len() {
			out = append(out, c.rules.at(i).Name)
		}
		return out
	}
	before := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	during := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	after := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) // valid_until is exclusive
	if got := names(c.liveAt(during)); !slices.Contains(got, "short-lived.example") || len(got) != 8 {
		t.Errorf("during: %q", got)
	}
	for _, at := range []time.Time{before, after} {
		if got := names(c.liveAt(at)); slices.Contains(got, "short-lived.example") || len(got) != 7 {
			t.Errorf("%v: %q", at, got)
		}
	}
	if c.liveAt(during) != c {
		t.Error("a copy whose rules all apply is not returned as is")
	}
	if n := c.nextChange(before); !n.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("next change after %v = %v", before, n)
	}
	if n := c.nextChange(during); !n.Equal(after) {
		t.Errorf("next change after %v = %v", during, n)
	}
	if n := c.nextChange(after); !n.IsZero() {
		t.Errorf("next change after %v = %v, want none", after, n)
	}
}
