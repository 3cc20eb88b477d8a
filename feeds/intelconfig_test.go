package feeds

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestValidateIntel: each threat-intelligence key's mistakes are errors
// naming the key and what to do; good settings pass.
func TestValidateIntel(t *testing.T) {
	const taxiiURL = "https://taxii.example/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"
	misp := func(m MISPConfig) ListConfig {
		return ListConfig{Name: "l", Format: FormatMISP, Source: "https://misp.example", MISP: &m}
	}
	tests := []struct {
		name string
		list ListConfig
		want string // "" = valid; else a substring of the joined errors
	}{
		{"taxii collection url", ListConfig{Name: "l", Format: FormatSTIX, Source: taxiiURL, TAXII: &TAXIIConfig{Token: "t"}}, ""},
		{"taxii needs stix", ListConfig{Name: "l", Format: FormatMISP, Source: taxiiURL, TAXII: &TAXIIConfig{}}, "blocklists[0].taxii: a TAXII source serves STIX"},
		{"taxii token and basic", ListConfig{Name: "l", Format: FormatSTIX, Source: taxiiURL, TAXII: &TAXIIConfig{Token: "t", Username: "u", Password: "p"}}, "taxii.token: use either"},
		{"taxii half basic", ListConfig{Name: "l", Format: FormatSTIX, Source: taxiiURL, TAXII: &TAXIIConfig{Username: "u"}}, "taxii.password: basic authentication needs both"},
		{"taxii no collection", ListConfig{Name: "l", Format: FormatSTIX, Source: "https://taxii.example/taxii2/", TAXII: &TAXIIConfig{}}, "taxii.collection: name the collection"},
		{"taxii negative page size", ListConfig{Name: "l", Format: FormatSTIX, Source: taxiiURL, TAXII: &TAXIIConfig{PageSize: -1}}, "taxii.page_size: must not be negative"},
		{"misp api", misp(MISPConfig{API: true, Key: "${MISP_KEY}", Last: "30d", FullRefresh: 6 * time.Hour}), ""},
		{"misp api without key", misp(MISPConfig{API: true}), "misp.key: the MISP API needs an API key"},
		{"misp bad last", misp(MISPConfig{API: true, Key: "k", Last: "a month"}), `misp.last: "a month" is not a MISP window`},
		{"misp negative full_refresh", misp(MISPConfig{API: true, Key: "k", FullRefresh: -time.Hour}), "misp.full_refresh: must not be negative"},
		{"misp full_refresh on a feed", misp(MISPConfig{FullRefresh: time.Hour}), "misp.api: last, timestamp, tags and full_refresh are restSearch settings"},
		{"misp sightings on a feed", misp(MISPConfig{Sightings: true}), "misp.sightings: MISP sightings go through the API"},
		{"stix passthru", ListConfig{Name: "l", Format: FormatSTIX, Source: taxiiURL, TAXII: &TAXIIConfig{}, ActionOverride: ActionPassthru}, "action_override: a stix block list cannot be passthru"},
		{"misp passthru", func() ListConfig {
			l := misp(MISPConfig{API: true, Key: "k"})
			l.ActionOverride = ActionPassthru
			return l
		}(), "action_override: a misp block list cannot be passthru"},
		{"misp other override", func() ListConfig { l := misp(MISPConfig{API: true, Key: "k"}); l.ActionOverride = "refused"; return l }(), ""},
		{"tag categories on domains", ListConfig{Name: "l", Format: "domains", Source: "https://x.example/l.txt", TagCategories: map[string]string{"a": "b"}}, "tag_categories: only stix and misp lists have tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := errors.Join(ValidateLists([]ListConfig{tt.list}, nil)...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("valid list refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
