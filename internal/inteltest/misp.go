package inteltest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// MISP is a MISP instance as Bulwark talks to it: a feed directory under
// /feed/ (manifest.json and UUID.json files, served with a strong ETag
// and If-None-Match, as a web server serves a feed export), the REST
// API's POST /attributes/restSearch (returnFormat json, type, to_ids,
// timestamp, limit and page) and POST /sightings/add. API calls need the
// API key in Authorization, as MISP does.
type MISP struct {
	*httptest.Server
	Key string

	mu        sync.Mutex
	files     map[string][]byte // feed files by name
	attrs     []json.RawMessage // restSearch's attributes
	searches  []map[string]any
	sightings []map[string]any
	requests  []string
}

// NewMISP starts an instance with an empty feed and no attributes.
func NewMISP(t testing.TB, key string) *MISP {
	m := &MISP{Key: key, files: map[string][]byte{}}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.Close)
	return m
}

// SetFile sets (or with nil, removes) a feed file.
func (m *MISP) SetFile(name string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if body == nil {
		delete(m.files, name)
		return
	}
	m.files[name] = body
}

// SetAttributes replaces what restSearch searches: attribute objects as
// restSearch answers them.
func (m *MISP) SetAttributes(attrs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attrs = nil
	for _, a := range attrs {
		m.attrs = append(m.attrs, json.RawMessage(a))
	}
}

// Requests returns "METHOD path" of every request, in order.
func (m *MISP) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...)
}

// Searches returns the restSearch request bodies.
func (m *MISP) Searches() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.searches...)
}

// Sightings returns the sightings/add request bodies.
func (m *MISP) Sightings() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.sightings...)
}

func (m *MISP) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.requests = append(m.requests, r.Method+" "+r.URL.Path)
	m.mu.Unlock()
	if name, ok := strings.CutPrefix(r.URL.Path, "/feed/"); ok && r.Method == http.MethodGet {
		m.serveFile(w, r, name)
		return
	}
	if r.Header.Get("Authorization") != m.Key {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"name":"Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.","message":"Authentication failed.","url":"` + r.URL.Path + `"}`))
		return
	}
	var body map[string]any
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, `{"message":"bad request"}`, http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/attributes/restSearch":
		m.restSearch(w, body)
	case "/sightings/add":
		m.mu.Lock()
		m.sightings = append(m.sightings, body)
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Sighting":{"id":"1","attribute_id":"1","event_id":"1","org_id":"1","date_sighting":"` +
			strconv.Itoa(int(num(body["timestamp"]))) + `","uuid":"4f1b8c1e-0000-4000-8000-000000000001","source":"` + str(body["source"]) + `","type":"0"}}`))
	default:
		http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
	}
}

func (m *MISP) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	m.mu.Lock()
	b, ok := m.files[name]
	m.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// restSearch filters the attributes by type, to_ids and timestamp and
// pages them by limit and page (1-based), as MISP does.
func (m *MISP) restSearch(w http.ResponseWriter, q map[string]any) {
	m.mu.Lock()
	m.searches = append(m.searches, q)
	attrs := append([]json.RawMessage(nil), m.attrs...)
	m.mu.Unlock()
	types := map[string]bool{}
	if ts, ok := q["type"].([]any); ok {
		for _, t := range ts {
			types[str(t)] = true
		}
	}
	var match []json.RawMessage
	for _, raw := range attrs {
		var a map[string]any
		_ = json.Unmarshal(raw, &a)
		if len(types) > 0 && !types[str(a["type"])] {
			continue
		}
		if q["to_ids"] == true && a["to_ids"] != true {
			continue
		}
		if ts := num(q["timestamp"]); ts > 0 {
			if at, _ := strconv.ParseFloat(str(a["timestamp"]), 64); at < ts {
				continue
			}
		}
		match = append(match, raw)
	}
	if limit := int(num(q["limit"])); limit > 0 {
		page := max(int(num(q["page"])), 1)
		start := min((page-1)*limit, len(match))
		match = match[start:min(start+limit, len(match))]
	}
	if match == nil {
		match = []json.RawMessage{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"response": map[string]any{"Attribute": match}})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return 0
}
