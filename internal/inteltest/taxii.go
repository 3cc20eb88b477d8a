// Package inteltest runs threat-intelligence servers on loopback for
// tests: a TAXII 2.1 server and a MISP instance (feed directory,
// restSearch, sightings), each written from its public specification
// (OASIS TAXII 2.1; MISP's feed layout and REST API), with the faults a
// client must survive: authentication failures, 429 with Retry-After,
// paging.
package inteltest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TAXIIMedia is the TAXII 2.1 media type.
const TAXIIMedia = "application/taxii+json;version=2.1"

// TAXII is a TAXII 2.1 server (OASIS TAXII Version 2.1, sections 4 and
// 5): discovery at /taxii2/, one API root at /api1/ with one collection,
// whose objects can be read (with added_after, limit and next) and
// written. Objects get a date_added from the server's own clock, one
// millisecond apart, so added_after is exact.
type TAXII struct {
	*httptest.Server
	// CollectionID and Title name the collection.
	CollectionID, Title string
	// Username and Password, or Token, are the accepted credentials; all
	// empty: no authentication.
	Username, Password, Token string

	mu       sync.Mutex
	objects  []stored
	posted   []json.RawMessage
	clock    time.Time
	busy     int    // answer this many reads of objects with 429
	busyWait string // their Retry-After
	noNext   bool   // page with added_after only, no next token
	requests []string
	served   int // objects sent by Get Objects
}

type stored struct {
	added time.Time
	raw   json.RawMessage
}

// NewTAXII starts a server with the collection empty.
func NewTAXII(t testing.TB) *TAXII {
	s := &TAXII{CollectionID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Title: "Shared indicators",
		clock: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Add stores objects (STIX JSON) in the collection, in order.
func (s *TAXII) Add(objects ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range objects {
		s.clock = s.clock.Add(time.Millisecond)
		s.objects = append(s.objects, stored{added: s.clock, raw: json.RawMessage(o)})
	}
}

// Busy makes the next n reads of objects answer 429 with Retry-After wait.
func (s *TAXII) Busy(n int, wait string) {
	s.mu.Lock()
	s.busy, s.busyWait = n, wait
	s.mu.Unlock()
}

// NoNext makes the server page without next tokens (clients page on with
// added_after and X-TAXII-Date-Added-Last, which 2.1 also allows).
func (s *TAXII) NoNext() {
	s.mu.Lock()
	s.noNext = true
	s.mu.Unlock()
}

// Posted returns the objects POSTed to the collection, in order.
func (s *TAXII) Posted() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.posted...)
}

// Served is how many objects Get Objects has sent, over every page.
func (s *TAXII) Served() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// Requests returns "METHOD path?query" of every request, in order.
func (s *TAXII) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// CollectionURL is the collection's URL.
func (s *TAXII) CollectionURL() string { return s.URL + "/api1/collections/" + s.CollectionID + "/" }

func (s *TAXII) authorized(r *http.Request) bool {
	switch {
	case s.Token != "":
		return r.Header.Get("Authorization") == "Bearer "+s.Token
	case s.Username != "":
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.Username+":"+s.Password))
		return r.Header.Get("Authorization") == want
	}
	return true
}

func taxiiError(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", TAXIIMedia)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"title": title})
}

// taxiiTime is how TAXII writes timestamps (RFC 3339, UTC, with
// fractional seconds).
const taxiiTime = "2006-01-02T15:04:05.000Z"

func (s *TAXII) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	s.mu.Unlock()
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="taxii"`)
		taxiiError(w, http.StatusUnauthorized, "authentication required")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Accept"), "application/taxii+json") {
		taxiiError(w, http.StatusNotAcceptable, "accept "+TAXIIMedia)
		return
	}
	col := "/api1/collections/" + s.CollectionID + "/"
	switch {
	case r.URL.Path == "/taxii2/" && r.Method == http.MethodGet:
		s.json(w, http.StatusOK, map[string]any{"title": "Test TAXII server", "default": s.URL + "/api1/",
			"api_roots": []string{s.URL + "/api1/"}})
	case r.URL.Path == "/api1/" && r.Method == http.MethodGet:
		s.json(w, http.StatusOK, map[string]any{"title": "API root", "versions": []string{TAXIIMedia}, "max_content_length": 10485760})
	case r.URL.Path == "/api1/collections/" && r.Method == http.MethodGet:
		s.json(w, http.StatusOK, map[string]any{"collections": []map[string]any{{
			"id": s.CollectionID, "title": s.Title, "can_read": true, "can_write": true, "media_types": []string{"application/stix+json;version=2.1"},
		}}})
	case r.URL.Path == col+"objects/" && r.Method == http.MethodGet:
		s.getObjects(w, r)
	case r.URL.Path == col+"objects/" && r.Method == http.MethodPost:
		s.postObjects(w, r)
	case strings.HasPrefix(r.URL.Path, "/api1/collections/"):
		taxiiError(w, http.StatusNotFound, "no such collection")
	default:
		taxiiError(w, http.StatusNotFound, "not found")
	}
}

func (s *TAXII) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", TAXIIMedia)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// getObjects is section 5.3: Get Objects, filtered by added_after, paged
// by limit and next.
func (s *TAXII) getObjects(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.busy > 0 {
		s.busy--
		wait := s.busyWait
		s.mu.Unlock()
		w.Header().Set("Retry-After", wait)
		taxiiError(w, http.StatusTooManyRequests, "slow down")
		return
	}
	objs := append([]stored(nil), s.objects...)
	noNext := s.noNext
	s.mu.Unlock()
	q := r.URL.Query()
	var after time.Time
	if v := q.Get("added_after"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			taxiiError(w, http.StatusBadRequest, "bad added_after")
			return
		}
		after = t
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			taxiiError(w, http.StatusBadRequest, "bad limit")
			return
		}
		limit = n
	}
	var match []stored
	for _, o := range objs {
		if o.added.After(after) {
			match = append(match, o)
		}
	}
	start := 0
	if v := q.Get("next"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(match) {
			taxiiError(w, http.StatusBadRequest, "bad next")
			return
		}
		start = n
	}
	page := match[start:min(start+limit, len(match))]
	env := map[string]any{}
	if len(page) > 0 {
		raws := make([]json.RawMessage, len(page))
		for i, o := range page {
			raws[i] = o.raw
		}
		env["objects"] = raws
		s.mu.Lock()
		s.served += len(page)
		s.mu.Unlock()
		w.Header().Set("X-TAXII-Date-Added-First", page[0].added.Format(taxiiTime))
		w.Header().Set("X-TAXII-Date-Added-Last", page[len(page)-1].added.Format(taxiiTime))
	}
	if end := start + len(page); end < len(match) {
		env["more"] = true
		if !noNext {
			env["next"] = strconv.Itoa(end)
		}
	} else {
		env["more"] = false
	}
	s.json(w, http.StatusOK, env)
}

// postObjects is section 5.4: Add Objects; it answers a status resource.
func (s *TAXII) postObjects(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/taxii+json") {
		taxiiError(w, http.StatusUnsupportedMediaType, "send "+TAXIIMedia)
		return
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		taxiiError(w, http.StatusBadRequest, "not an envelope: "+err.Error())
		return
	}
	s.mu.Lock()
	s.posted = append(s.posted, env.Objects...)
	s.mu.Unlock()
	s.json(w, http.StatusAccepted, map[string]any{
		"id": "2d086da7-4bdc-4f91-900e-d77486753710", "status": "complete",
		"request_timestamp": time.Now().UTC().Format(taxiiTime), "total_count": len(env.Objects),
		"success_count": len(env.Objects), "failure_count": 0, "pending_count": 0,
	})
}

// Indicator returns a STIX 2.1 indicator object with the given id
// (uuid part), pattern and validity ("" for none).
func Indicator(uuid, pattern, modified, validFrom, validUntil string) string {
	o := map[string]any{"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uuid,
		"created": modified, "modified": modified, "pattern": pattern, "pattern_type": "stix",
		"indicator_types": []string{"malicious-activity"}, "valid_from": validFrom}
	if validUntil != "" {
		o["valid_until"] = validUntil
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// Revoked returns a revoked version of an indicator.
func Revoked(uuid, pattern, modified string) string {
	b, _ := json.Marshal(map[string]any{"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uuid,
		"created": "2026-11-01T00:00:00.000Z", "modified": modified, "pattern": pattern, "pattern_type": "stix",
		"valid_from": "2026-11-01T00:00:00Z", "revoked": true})
	return string(b)
}
