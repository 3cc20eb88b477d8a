package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// Threat-intelligence format names (the config's "format:" key).
const (
	FormatSTIX = "stix"
	FormatMISP = "misp"
)

// stixObject is the part of a STIX 2.1 object Bulwark reads (OASIS STIX
// 2.1, section 4 common properties and 4.7 indicator).
type stixObject struct {
	Type           string   `json:"type"`
	ID             string   `json:"id"`
	Modified       string   `json:"modified"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	Revoked        bool     `json:"revoked"`
	Labels         []string `json:"labels"`
	IndicatorTypes []string `json:"indicator_types"`
}

// stixIndicator is an indicator kept until the whole document is read,
// because a later version of the same id (a newer "modified", possibly
// revoked) replaces an earlier one.
type stixIndicator struct {
	obj      stixObject
	modified time.Time
	line     int
}

// ParseSTIX reads a STIX 2.1 bundle ({"type": "bundle", "objects": [...]})
// or a TAXII 2.1 envelope ({"objects": [...]}) and emits a rule per name
// in each indicator's pattern (ParseSTIXPattern): a domain-name:value is a
// Subtree rule (the name and below, as in a domain list), the host of a
// url:value an Exact rule. Objects are counted as lines (Line is the
// object's 1-based position in "objects"). Only the newest version of each
// indicator id counts; revoked ones and patterns Bulwark cannot act on are
// skipped with a reason; valid_from and valid_until go into the rule's
// IntelRef so the Manager stops applying it when it expires. A malformed
// JSON document is an error (the copy is refused, the last good one kept);
// a malformed object is a rejected line.
func ParseSTIX(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	dec := json.NewDecoder(r)
	n := 0
	byID := map[string]*stixIndicator{}
	var order []*stixIndicator
	err := eachObject(dec, func(raw json.RawMessage) {
		n++
		var o stixObject
		if err := json.Unmarshal(raw, &o); err != nil {
			reject(LineError{Line: n, Text: clip(raw), Reason: ReasonSTIXBadObject})
			return
		}
		if o.Type != "indicator" {
			return // identities, malware, relationships...: context, not rules
		}
		if o.ID == "" || o.Pattern == "" {
			reject(LineError{Line: n, Text: clip(raw), Reason: ReasonSTIXBadObject})
			return
		}
		mod, _ := parseSTIXTime(o.Modified) // missing: oldest
		in := &stixIndicator{obj: o, modified: mod, line: n}
		if prev, ok := byID[o.ID]; ok {
			if !mod.After(prev.modified) {
				return
			}
			*prev = *in
			return
		}
		byID[o.ID] = in
		order = append(order, in)
	})
	if err != nil {
		return Stats{Lines: n}, err
	}
	for _, in := range order {
		stixEmit(in, emit, reject)
	}
	return Stats{Lines: n}, nil
}

func stixEmit(in *stixIndicator, emit func(Entry), reject func(LineError)) {
	o := &in.obj
	text := o.ID + " " + clip([]byte(o.Pattern))
	skip := func(reason string) {
		reject(LineError{Line: in.line, Text: text, Reason: reason, Skipped: true})
	}
	if o.Revoked {
		skip(ReasonRevoked)
		return
	}
	if slices.ContainsFunc(o.IndicatorTypes, func(t string) bool { return strings.EqualFold(t, "benign") }) {
		skip(ReasonSTIXBenign) // feed trust: a shared feed blocks, it never allows
		return
	}
	if o.PatternType != "" && o.PatternType != "stix" {
		skip(ReasonSTIXPatternType)
		return
	}
	ref := IntelRef{Kind: IntelSTIX, ID: o.ID, Tags: append(append([]string(nil), o.Labels...), o.IndicatorTypes...)}
	var err1, err2 error
	ref.NotBefore, err1 = parseSTIXTime(o.ValidFrom)
	ref.NotAfter, err2 = parseSTIXTime(o.ValidUntil)
	if err1 != nil || err2 != nil || !ref.NotAfter.IsZero() && !ref.NotAfter.After(ref.NotBefore) {
		reject(LineError{Line: in.line, Text: text, Reason: ReasonSTIXTimestamp})
		return
	}
	res := ParseSTIXPattern(o.Pattern)
	if res.Reason != "" {
		reject(LineError{Line: in.line, Text: text, Reason: res.Reason, Skipped: !res.Syntax})
		return
	}
	if res.Other > 0 {
		skip(ReasonSTIXObjectPath)
	}
	for _, t := range res.Terms {
		name, scope, reason, skipped := termName(t)
		if reason != "" {
			reject(LineError{Line: in.line, Text: o.ID + " " + t.Value, Reason: reason, Skipped: skipped})
			continue
		}
		r := ref
		emit(Entry{Name: name, Scope: scope, Line: in.line, Intel: &r})
	}
}

// termName is the rule of one pattern equality, or why there is none
// (skipped: valid but not a name, such as a URL on an IP address).
func termName(t PatternTerm) (name string, scope blocklist.Scope, reason string, skipped bool) {
	if t.Path == pathDomain {
		name, reason = canonical([]byte(t.Value))
		return name, blocklist.Subtree, reason, false
	}
	return urlHost(t.Value)
}

// urlHost is the Exact rule for the host of an indicator's URL.
func urlHost(raw string) (string, blocklist.Scope, string, bool) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s // "evil.example/path" as feeds often write it
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return "", blocklist.Exact, ReasonURL, false
	}
	host := u.Hostname()
	name, reason := canonical([]byte(host))
	if reason == ReasonIPAddress {
		return "", blocklist.Exact, reason, true // a URL on an address: nothing to resolve
	}
	return name, blocklist.Exact, reason, false
}

// parseSTIXTime parses a STIX timestamp (RFC 3339, UTC, optional
// fractional seconds); "" is the zero time.
func parseSTIXTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// eachObject walks a JSON object with an "objects" array, handing each
// element to fn and skipping every other member.
func eachObject(dec *json.Decoder, fn func(json.RawMessage)) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a STIX bundle or TAXII envelope: the document is not a JSON object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return jsonErr(err)
		}
		if k, _ := key.(string); k != "objects" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonErr(err)
			}
			continue
		}
		tok, err := dec.Token()
		if err != nil {
			return jsonErr(err)
		}
		if tok == nil { // "objects": null
			continue
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return errors.New(`"objects" is not an array`)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return jsonErr(err)
			}
			fn(raw)
		}
		if _, err := dec.Token(); err != nil {
			return jsonErr(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonErr(err)
	}
	return nil
}

// jsonErr turns a JSON decoding error into one an operator can act on; a
// read error passes through.
func jsonErr(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the document ends early (truncated?)")
	}
	return err
}
