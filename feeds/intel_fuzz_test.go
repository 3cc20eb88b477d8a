package feeds

import (
	"strings"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/testfile"
)

// FuzzSTIXPattern: any pattern yields either terms or a reason, never a
// panic, and every term is on a supported path.
func FuzzSTIXPattern(f *testing.F) {
	for _, s := range []string{
		"[domain-name:value = 'a.example']",
		"[domain-name:value = 'a.example' OR url:value = 'http://b.example/x'] OR [ipv4-addr:value = '1.2.3.4']",
		"([domain-name:value = 'a.example'] AND [x:y = 1]) WITHIN 5 SECONDS",
		"[file:hashes.'SHA-256' = 'ab'] FOLLOWEDBY [domain-name:value IN ('a', 'b')]",
		`[domain-name:value = 'it\'s']`, "[", "(((", "[a:b = t'2020-01-01T00:00:00Z']",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		res := ParseSTIXPattern(p)
		if (res.Reason == "") == (len(res.Terms) == 0) {
			t.Fatalf("%q: reason %q with %d terms", p, res.Reason, len(res.Terms))
		}
		for _, x := range res.Terms {
			if x.Path != pathDomain && x.Path != pathURL {
				t.Fatalf("%q: term on %q", p, x.Path)
			}
		}
	})
}

// FuzzMISP: any input parses without a panic into canonical block rules
// (never exceptions: feed trust) that name their attribute, and every
// reject has a reason.
func FuzzMISP(f *testing.F) {
	for _, name := range []string{"misp-feed/5f1c4a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b.json", "misp-feed/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d.json", "misp-restsearch.json"} {
		b := testfile.Read(f, "testdata/intel/"+name)
		f.Add(string(b))
	}
	f.Add(`{"Attribute":[{"type":"domain|ip","value":"a.example|1.2.3.4","to_ids":"1"}]}{"response":[{"Event":{}}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ParseMISP(strings.NewReader(in), func(e Entry) {
			if e.Intel == nil || e.Intel.Kind != IntelMISP || e.Allow {
				t.Fatalf("entry %+v without its attribute, or an exception", e)
			}
			if n, reason := canonical([]byte(e.Name)); reason != "" || n != e.Name {
				t.Fatalf("non-canonical name %q", e.Name)
			}
		}, func(e LineError) {
			if e.Reason == "" {
				t.Fatalf("reject without a reason: %+v", e)
			}
		})
	})
}

// FuzzSTIX: the bundle parser never panics, emits block rules only (never
// exceptions: feed trust) and names every rule's indicator.
func FuzzSTIX(f *testing.F) {
	b := testfile.Read(f, "testdata/intel/stix-bundle.json")
	f.Add(string(b))
	f.Add(`{"objects":[{"type":"indicator","id":"indicator--1","pattern":"[url:value = 'x']","valid_until":"2026-01-01T00:00:00Z"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ParseSTIX(strings.NewReader(in), func(e Entry) {
			if e.Intel == nil || e.Intel.ID == "" || e.Allow {
				t.Fatalf("entry %+v without its indicator, or an exception", e)
			}
		}, func(LineError) {})
	})
}

// FuzzMISPMerge: any restSearch answer merges into the attributes in hand
// without a panic, and what the source hands the parser (mispAnswer) is
// always one valid MISP document, whatever the server sent.
func FuzzMISPMerge(f *testing.F) {
	b := testfile.Read(f, "testdata/intel/misp-restsearch.json")
	f.Add(b, []byte(`{"response":{"Attribute":[{"uuid":"a","deleted":true,"to_ids":"1","timestamp":"7"}]}}`))
	f.Add([]byte(`{"response":{"Attribute":[{"uuid":"x","timestamp":"1e3"},{"uuid":""},7,null]}}`), []byte(`{"response":{}}`))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		held, _, err := mispMerge(nil, first, true)
		if err != nil {
			return
		}
		next, _, err := mispMerge(held, second, true)
		if err != nil {
			next = held
		}
		if _, err := ParseMISP(strings.NewReader(string(mispAnswer(next))), func(Entry) {}, func(LineError) {}); err != nil {
			t.Fatalf("the merged answer does not parse: %v", err)
		}
	})
}
