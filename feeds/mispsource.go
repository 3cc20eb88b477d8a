package feeds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// mispUUID is an event file's name in a MISP feed; anything else in a
// manifest is not fetched (it would be a path).
var mispUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// mispFeedSource reads a MISP feed: manifest.json, fetched conditionally,
// maps each event uuid to its timestamp; an event is downloaded (UUID.json)
// only when it is new or its timestamp changed, and events gone from the
// manifest drop out. The events are handed to the parser as one stream of
// event documents, which is what the disk cache and min_ratio see. The
// events are kept in memory between fetches, and the manifest's validators
// and event timestamps are saved beside the cached copy (intelstate.go),
// so after a restart the manifest is asked conditionally and only changed
// events are downloaded.
type mispFeedSource struct {
	shown    string
	manifest Source
	event    func(uuid string) Source
	remote   bool
	maxSize  int64
	store    *intelStore

	mu     sync.Mutex
	events map[string]mispCached
	manVal Validators // of the manifest behind state
	state  string     // validator of the stream last handed out: "misp-feed-" and its SHA-256
	// fetched and reused count the event files of the last fetch.
	fetched, reused int
}

type mispCached struct {
	ts   string
	body []byte
}

func newMISPFeedSource(scheme, rest string, sp *feedSpec, env specEnv) *mispFeedSource {
	rest = strings.TrimSuffix(rest, "manifest.json")
	s := &mispFeedSource{maxSize: sp.maxSize, store: newIntelStore(sp, "misp-feed")}
	if scheme == schemeFile {
		dir := resolveFile(rest, env.baseDir)
		s.shown = "misp-feed:" + schemeFile + dir
		s.manifest = fileSource{path: dir + "/manifest.json"}
		s.event = func(uuid string) Source { return fileSource{path: dir + "/" + uuid + ".json"} }
		return s
	}
	s.remote = true
	s.shown = "misp-feed:" + redactURL(rest)
	mk := func(u string) Source {
		return &httpSource{url: u, shown: redactURL(u), client: env.client, userAgent: env.userAgent,
			headers: sp.cfg.Headers, baseDir: env.baseDir, maxSize: sp.maxSize}
	}
	base, q := rest, ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		base, q = rest[:i], rest[i:]
	}
	s.manifest = mk(base + "manifest.json" + q)
	s.event = func(uuid string) Source { return mk(base + uuid + ".json" + q) }
	return s
}

func (s *mispFeedSource) String() string { return s.shown }
func (s *mispFeedSource) Remote() bool   { return s.remote }

func (s *mispFeedSource) attach(m *Manager) {
	if s.remote { // a local feed has no cached copy to resume from
		s.store.attach(m)
	}
}

// adoptFrom takes over the events of the running source of the same feed
// (a reload).
func (s *mispFeedSource) adoptFrom(old Source) {
	o, ok := old.(*mispFeedSource)
	if !ok || o.shown != s.shown {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	// The map is never changed in place (Fetch builds a new one).
	s.events, s.manVal, s.state = o.events, o.manVal, o.state
	s.store.tried = true
}

// resume takes back the stream the caller holds (prev, its cached copy
// after a restart) and the manifest validators and event timestamps saved
// with it, once.
func (s *mispFeedSource) resume(prev Validators) {
	st, body, ok := s.store.resume(s.state, prev.ETag)
	if !ok {
		return
	}
	events := make(map[string]mispCached, len(st.Events))
	for _, e := range st.Events {
		if e.Offset < 0 || e.Length < 0 || e.Offset > len(body)-e.Length || !mispUUID.MatchString(e.UUID) {
			s.store.ignore("event " + e.UUID + " lies outside the cached copy")
			return
		}
		events[e.UUID] = mispCached{ts: e.Timestamp, body: body[e.Offset : e.Offset+e.Length]}
	}
	s.events, s.state = events, prev.ETag
	if st.Manifest != nil {
		s.manVal = *st.Manifest
	}
	s.store.log.Info("feed source resumed from its saved state", "feed", s.store.list, "events", len(events))
}

func (s *mispFeedSource) Fetch(ctx context.Context, prev Validators) (*Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume(prev)
	holds := s.state != "" && prev.ETag == s.state // the caller has our last stream
	var mv Validators
	if holds {
		mv = s.manVal
	}
	resp, err := s.manifest.Fetch(ctx, mv)
	if err != nil {
		return nil, fmt.Errorf("misp feed manifest: %w", err)
	}
	if resp.NotModified {
		return &Response{NotModified: true, Validators: prev}, nil
	}
	b := newBudget(s.maxSize)
	data, err := readBudget(resp.Body, b)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("misp feed manifest: %w", err)
	}
	var man map[string]struct {
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &man); err != nil {
		return nil, fmt.Errorf("misp feed manifest %s: %v", s.manifest, jsonErr(err))
	}
	uuids := make([]string, 0, len(man))
	for k := range man {
		if mispUUID.MatchString(k) {
			uuids = append(uuids, k)
		}
	}
	slices.Sort(uuids)
	events := make(map[string]mispCached, len(uuids))
	saved := make([]stateEvent, 0, len(uuids))
	fetched, reused := 0, 0
	var out bytes.Buffer
	for _, id := range uuids {
		ts := strings.Trim(string(man[id].Timestamp), `"`)
		c, ok := s.events[id]
		if !ok || c.ts != ts || ts == "" {
			er, err := s.event(id).Fetch(ctx, Validators{})
			if err != nil {
				return nil, fmt.Errorf("misp feed event %s: %w", id, err)
			}
			body, err := readBudget(er.Body, b)
			er.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("misp feed event %s: %w", id, err)
			}
			c = mispCached{ts: ts, body: body}
			fetched++
		} else {
			if b.left -= int64(len(c.body)); b.left < 0 {
				return nil, fmt.Errorf("misp feed: the events are more than max_size %s", ByteSize(b.max))
			}
			reused++
		}
		events[id] = c
		ev := bytes.TrimSpace(c.body)
		saved = append(saved, stateEvent{UUID: id, Timestamp: ts, Offset: out.Len(), Length: len(ev)})
		out.Write(ev)
		out.WriteByte('\n')
	}
	s.events, s.manVal, s.fetched, s.reused = events, resp.Validators, fetched, reused
	sum := bodySum(out.Bytes())
	s.state = "misp-feed-" + sum[:32]
	s.store.save(intelState{ETag: s.state, BodySHA: sum, Manifest: &s.manVal, Events: saved})
	return &Response{Body: nopCloser{bytes.NewReader(out.Bytes())}, Validators: Validators{ETag: s.state}}, nil
}

// readBudget reads r whole within b (gzip-compressed events are
// decompressed by parseCopy only for the stream as a whole, so an event
// file must be plain JSON).
func readBudget(r io.Reader, b *budget) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, b.left+1))
	if err != nil {
		return nil, err
	}
	if b.left -= int64(len(data)); b.left < 0 {
		return nil, fmt.Errorf("more than max_size %s", ByteSize(b.max))
	}
	return data, nil
}

// mispTypes are the attribute types restSearch is asked for.
var mispTypes = []string{"domain", "hostname", "url", "domain|ip"}

// mispPageSize is restSearch's limit per page; mispMaxPages bounds one
// fetch.
const (
	mispPageSize = 10000
	mispMaxPages = 1000
)

// mispAPISource asks a MISP instance's /attributes/restSearch for the
// attributes Bulwark can block on (to_ids, not deleted, within the
// configured window), page by page, and keeps them by uuid. Between full
// searches (misp.full_refresh) a fetch asks only for the attributes
// changed since the newest one in hand, deleted and to_ids-off ones
// included so that they drop out, and merges them in. The parser is handed
// every attribute in hand as one restSearch answer, sorted by uuid; when it
// is byte-for-byte the one the caller holds, the fetch is NotModified. The
// cursor is saved beside the cached copy (intelstate.go), so a restart
// asks only for what changed.
type mispAPISource struct {
	base  string
	shown string
	cfg   MISPConfig
	cl    *intelClient
	now   func() time.Time
	store *intelStore

	mu      sync.Mutex // one fetch at a time (the Manager already serialises)
	attrs   map[string]mispHeld
	changed int64     // the newest attribute timestamp in attrs
	full    time.Time // when the whole window was last searched
	state   string    // validator of the answer last handed out: "misp-api-" and its SHA-256
	sum     string
}

// mispHeld is one attribute in hand: as restSearch sent it, and its
// timestamp (Unix seconds).
type mispHeld struct {
	raw json.RawMessage
	ts  int64
}

// defaultMISPFullRefresh is MISPConfig.FullRefresh's default.
const defaultMISPFullRefresh = 24 * time.Hour

func newMISPAPISource(raw string, cfg MISPConfig, sp *feedSpec, env specEnv) *mispAPISource {
	if cfg.FullRefresh == 0 {
		cfg.FullRefresh = defaultMISPFullRefresh
	}
	s := &mispAPISource{base: strings.TrimSuffix(raw, "/"), shown: "misp-api:" + redactURL(raw), cfg: cfg,
		cl: newIntelClient(raw, sp, env), now: time.Now, store: newIntelStore(sp, "misp-api")}
	s.cl.auth = mispAuth(cfg.Key, env.baseDir)
	return s
}

// mispAuth sets MISP's API key header.
func mispAuth(key, baseDir string) func(*http.Request) error {
	return func(req *http.Request) error {
		k, err := resolveHeader(key, baseDir)
		if err != nil {
			return fmt.Errorf("misp.key: %w", err)
		}
		req.Header.Set("Authorization", k)
		return nil
	}
}

func (s *mispAPISource) String() string { return s.shown }
func (s *mispAPISource) Remote() bool   { return true }

func (s *mispAPISource) attach(m *Manager) {
	s.store.attach(m)
	s.now = m.clock.Now
}

// adoptFrom takes over the attributes of the running source of the same
// instance and settings (a reload).
func (s *mispAPISource) adoptFrom(old Source) {
	o, ok := old.(*mispAPISource)
	if !ok || o.base != s.base || !reflect.DeepEqual(o.cfg, s.cfg) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	// The map is never changed in place (Fetch builds a new one).
	s.attrs, s.changed, s.full, s.state, s.sum = o.attrs, o.changed, o.full, o.state, o.sum
	s.store.tried = true
}

// resume takes back the answer the caller holds (prev, its cached copy
// after a restart) and the cursor saved with it, once.
func (s *mispAPISource) resume(prev Validators) {
	st, body, ok := s.store.resume(s.state, prev.ETag)
	if !ok {
		return
	}
	attrs, _, err := mispMerge(nil, body, false)
	if err != nil {
		s.store.ignore("the cached answer: " + err.Error())
		return
	}
	s.attrs, s.changed, s.full, s.state, s.sum = attrs, st.Changed, st.FullSearch, prev.ETag, st.BodySHA
	s.store.log.Info("feed source resumed from its saved state", "feed", s.store.list, "attributes", len(attrs), "changed_since", st.Changed)
}

func (s *mispAPISource) Fetch(ctx context.Context, prev Validators) (*Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume(prev)
	now := s.now()
	// A change search needs the caller to hold the copy it changes.
	full := s.state == "" || prev.ETag != s.state || s.changed == 0 || !now.Before(s.full.Add(s.cfg.FullRefresh))
	attrs, changed := s.attrs, s.changed
	if full {
		attrs, changed = nil, 0
	}
	b := newBudget(s.cl.src.maxSize)
	for page := 1; ; page++ {
		if page > mispMaxPages {
			return nil, fmt.Errorf("misp restSearch %s: more than %d pages", s.shown, mispMaxPages)
		}
		body, _ := json.Marshal(s.query(full, changed, now, page))
		_, data, err := s.cl.do(ctx, http.MethodPost, s.base+"/attributes/restSearch", body, "application/json", b)
		if err != nil {
			return nil, fmt.Errorf("misp restSearch: %w", err)
		}
		var n int
		if attrs, n, err = mispMerge(attrs, data, true); err != nil {
			return nil, fmt.Errorf("misp restSearch %s: %w", s.shown, err)
		}
		for _, a := range attrs {
			changed = max(changed, a.ts)
		}
		if n < mispPageSize {
			break
		}
	}
	if s.cfg.Timestamp > 0 { // the window moves on between full searches too
		cut := now.Add(-s.cfg.Timestamp).Unix()
		maps.DeleteFunc(attrs, func(_ string, a mispHeld) bool { return a.ts > 0 && a.ts < cut })
	}
	out := mispAnswer(attrs)
	s.attrs, s.changed, s.sum = attrs, changed, bodySum(out)
	s.state = "misp-api-" + s.sum[:32]
	if full {
		s.full = now
	}
	s.store.save(intelState{ETag: s.state, BodySHA: s.sum, Changed: s.changed, FullSearch: s.full})
	v := Validators{ETag: s.state}
	if prev.ETag == v.ETag {
		return &Response{NotModified: true, Validators: v}, nil
	}
	return &Response{Body: nopCloser{bytes.NewReader(out)}, Validators: v}, nil
}

// query is one page's restSearch body: the whole window (full), else the
// attributes changed since the timestamp changed, whatever their to_ids
// and deleted.
func (s *mispAPISource) query(full bool, changed int64, now time.Time, page int) map[string]any {
	q := map[string]any{
		"returnFormat": "json", "type": mispTypes, "includeEventTags": true, "includeEventUuid": true,
		"limit": mispPageSize, "page": page,
	}
	var since int64
	if s.cfg.Timestamp > 0 {
		since = now.Add(-s.cfg.Timestamp).Unix()
	}
	if full {
		q["to_ids"], q["deleted"] = true, false
	} else {
		q["deleted"] = []int{0, 1}
		since = max(since, changed)
	}
	if since > 0 {
		q["timestamp"] = since
	}
	if s.cfg.Last != "" {
		q["last"] = s.cfg.Last
	}
	if len(s.cfg.Tags) > 0 {
		q["tags"] = s.cfg.Tags
	}
	return q
}

// mispMerge returns held (not changed) with the attributes of one
// restSearch answer put in by uuid; with drop, deleted and to_ids-off
// ones are taken out instead. n is the answer's attribute count.
func mispMerge(held map[string]mispHeld, data []byte, drop bool) (map[string]mispHeld, int, error) {
	var r struct {
		Response struct {
			Attribute []json.RawMessage `json:"Attribute"`
		} `json:"response"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, 0, fmt.Errorf("not an attribute list: %v", jsonErr(err))
	}
	out := maps.Clone(held)
	if out == nil {
		out = make(map[string]mispHeld, len(r.Response.Attribute))
	}
	for _, raw := range r.Response.Attribute {
		var a struct {
			mispAttribute
			Timestamp json.Number `json:"timestamp"`
		}
		if json.Unmarshal(raw, &a) != nil || a.UUID == "" {
			out["~"+bodySum(raw)] = mispHeld{raw: raw} // the parser reports it
			continue
		}
		if drop && (bool(a.Deleted) || !bool(a.ToIDS)) {
			delete(out, a.UUID)
			continue
		}
		ts, _ := strconv.ParseInt(strings.Trim(a.Timestamp.String(), `"`), 10, 64)
		out[a.UUID] = mispHeld{raw: raw, ts: ts}
	}
	return out, len(r.Response.Attribute), nil
}

// mispAnswer writes attrs as one restSearch answer, sorted by uuid.
func mispAnswer(attrs map[string]mispHeld) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"response":{"Attribute":[`)
	for i, k := range slices.Sorted(maps.Keys(attrs)) {
		if i > 0 {
			buf.WriteByte(',')
		}
		if json.Compact(&buf, attrs[k].raw) != nil {
			buf.WriteString("null")
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]}}\n")
	return buf.Bytes()
}

// MISPSightingTarget is where blocks of a MISP API list are reported:
// the instance and its key. It is for package sightings.
type MISPSightingTarget struct {
	List string
	// URL is the instance's base URL; Key resolves the API key at each
	// request (a rotated secret is picked up).
	URL string
	Key func() (string, error)
}

// MISPSightingTargets returns the MISP API lists configured with
// misp.sightings.
func (m *Manager) MISPSightingTargets() []MISPSightingTarget {
	var out []MISPSightingTarget
	for _, sp := range m.specs {
		s, ok := sp.src.(*mispAPISource)
		if !ok || !s.cfg.Sightings {
			continue
		}
		key, base := s.cfg.Key, s.cl.src.baseDir
		out = append(out, MISPSightingTarget{List: sp.info.Name, URL: s.base,
			Key: func() (string, error) { return resolveHeader(key, base) }})
	}
	return out
}
