package feeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// MISP documents as the MISP feed format and REST API write them (MISP
// core format, draft-dulaunoy-misp-core-format): an event file is
// {"Event": {..., "Tag": [...], "Attribute": [...], "Object": [{...,
// "Attribute": [...]}]}}; /attributes/restSearch answers {"response":
// {"Attribute": [...]}} with each attribute's event in "Event" and, with
// includeEventTags, the event's tags among its own.

type mispTag struct {
	Name string `json:"name"`
}

// mispBool reads MISP's booleans, which older instances write as "0"/"1"
// strings or numbers.
type mispBool bool

func (b *mispBool) UnmarshalJSON(data []byte) error {
	switch string(bytes.Trim(data, `"`)) {
	case "true", "1":
		*b = true
	case "false", "0", "", "null":
		*b = false
	default:
		return errors.New("not a boolean")
	}
	return nil
}

type mispAttribute struct {
	UUID    string    `json:"uuid"`
	Type    string    `json:"type"`
	Value   string    `json:"value"`
	ToIDS   mispBool  `json:"to_ids"`
	Deleted mispBool  `json:"deleted"`
	Tag     []mispTag `json:"Tag"`
	Event   *struct {
		UUID string `json:"uuid"`
	} `json:"Event"`
	EventUUID string `json:"event_uuid"`
}

type mispObject struct {
	Deleted   mispBool        `json:"deleted"`
	Attribute []mispAttribute `json:"Attribute"`
}

type mispEvent struct {
	UUID      string          `json:"uuid"`
	Tag       []mispTag       `json:"Tag"`
	Attribute []mispAttribute `json:"Attribute"`
	Object    []mispObject    `json:"Object"`
}

// mispDoc is one top-level JSON value of a MISP copy.
type mispDoc struct {
	Event     *mispEvent      `json:"Event"`
	Response  json.RawMessage `json:"response"`
	Attribute []mispAttribute `json:"Attribute"`
}

// MISP reject and skip reasons.
const (
	ReasonMISPType    = "misp attribute type"
	ReasonMISPNotIDS  = "misp to_ids off"
	ReasonMISPDeleted = "misp deleted"
	ReasonMISPBad     = "misp bad document"
)

// ParseMISP reads MISP events and attribute lists: a sequence of JSON
// documents, each an event ({"Event": ...}, a feed's event file), a
// restSearch answer ({"response": {"Attribute": [...]}} or {"response":
// [{"Event": ...}]}) or {"Attribute": [...]}. Each attribute is a line
// (Line counts attributes in document order). Types domain and domain|ip
// (its name) become Subtree rules, hostname and url (its host) Exact
// rules; other types, attributes with to_ids off and deleted attributes
// and objects are skipped with a reason. Attribute tags, then event tags,
// are the rule's tags for tag_categories. Malformed JSON fails the copy;
// a document of the wrong shape is a rejected line.
func ParseMISP(r io.Reader, emit func(Entry), reject func(LineError)) (Stats, error) {
	dec := json.NewDecoder(r)
	n := 0
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return Stats{Lines: n}, nil
			}
			return Stats{Lines: n}, jsonErr(err)
		}
		var d mispDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			n++
			reject(LineError{Line: n, Text: clip(raw), Reason: ReasonMISPBad})
			continue
		}
		switch {
		case d.Event != nil:
			mispEmitEvent(d.Event, &n, emit, reject)
		case len(d.Response) > 0:
			mispResponse(d.Response, &n, emit, reject)
		case d.Attribute != nil:
			mispEmitAttrs(d.Attribute, "", nil, false, &n, emit, reject)
		default:
			n++
			reject(LineError{Line: n, Text: clip(raw), Reason: ReasonMISPBad})
		}
	}
}

func mispResponse(raw json.RawMessage, n *int, emit func(Entry), reject func(LineError)) {
	var attrs struct {
		Attribute []mispAttribute `json:"Attribute"`
	}
	if json.Unmarshal(raw, &attrs) == nil {
		mispEmitAttrs(attrs.Attribute, "", nil, false, n, emit, reject)
		return
	}
	var events []mispDoc
	if err := json.Unmarshal(raw, &events); err != nil {
		*n++
		reject(LineError{Line: *n, Text: clip(raw), Reason: ReasonMISPBad})
		return
	}
	for _, d := range events {
		if d.Event != nil {
			mispEmitEvent(d.Event, n, emit, reject)
		}
	}
}

func mispEmitEvent(ev *mispEvent, n *int, emit func(Entry), reject func(LineError)) {
	mispEmitAttrs(ev.Attribute, ev.UUID, ev.Tag, false, n, emit, reject)
	for _, o := range ev.Object {
		mispEmitAttrs(o.Attribute, ev.UUID, ev.Tag, bool(o.Deleted), n, emit, reject)
	}
}

func mispEmitAttrs(attrs []mispAttribute, event string, eventTags []mispTag, deleted bool, n *int, emit func(Entry), reject func(LineError)) {
	for i := range attrs {
		*n++
		a := &attrs[i]
		text := a.Type + " " + a.Value
		skip := func(reason string) {
			reject(LineError{Line: *n, Text: clip([]byte(text)), Reason: reason, Skipped: true})
		}
		var name, reason string
		var scope blocklist.Scope
		switch a.Type {
		case "domain", "domain|ip", "hostname":
			v := a.Value
			if a.Type == "domain|ip" {
				v, _, _ = strings.Cut(v, "|")
			}
			scope = blocklist.Subtree
			if a.Type == "hostname" {
				scope = blocklist.Exact
			}
			name, reason = canonical([]byte(strings.TrimSpace(v)))
		case "url":
			var skipped bool
			name, scope, reason, skipped = urlHost(a.Value)
			if skipped {
				skip(reason)
				continue
			}
		default:
			skip(ReasonMISPType)
			continue
		}
		switch {
		case deleted || bool(a.Deleted):
			skip(ReasonMISPDeleted)
			continue
		case !bool(a.ToIDS):
			skip(ReasonMISPNotIDS)
			continue
		case reason != "":
			reject(LineError{Line: *n, Text: clip([]byte(text)), Reason: reason})
			continue
		}
		ref := IntelRef{Kind: IntelMISP, ID: a.UUID, Event: event}
		if ref.Event == "" {
			ref.Event = a.EventUUID
			if a.Event != nil {
				ref.Event = a.Event.UUID
			}
		}
		for _, t := range a.Tag {
			ref.Tags = append(ref.Tags, t.Name)
		}
		for _, t := range eventTags {
			ref.Tags = append(ref.Tags, t.Name)
		}
		emit(Entry{Name: name, Scope: scope, Line: *n, Intel: &ref})
	}
}
