package feeds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
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
// configured window), page by page. The answer is handed to the parser
// as-is; when it is byte-for-byte the one the caller holds, the fetch is
// NotModified.
type mispAPISource struct {
	base  string
	shown string
	cfg   MISPConfig
	cl    *intelClient
	now   func() time.Time
}

func newMISPAPISource(raw string, cfg MISPConfig, sp *feedSpec, env specEnv) *mispAPISource {
	s := &mispAPISource{base: strings.TrimSuffix(raw, "/"), shown: "misp-api:" + redactURL(raw), cfg: cfg,
		cl: newIntelClient(raw, sp, env), now: time.Now}
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

func (s *mispAPISource) Fetch(ctx context.Context, prev Validators) (*Response, error) {
	b := newBudget(s.cl.src.maxSize)
	var out bytes.Buffer
	for page := 1; ; page++ {
		if page > mispMaxPages {
			return nil, fmt.Errorf("misp restSearch %s: more than %d pages", s.shown, mispMaxPages)
		}
		q := map[string]any{
			"returnFormat": "json", "type": mispTypes, "to_ids": true, "deleted": false,
			"includeEventTags": true, "includeEventUuid": true, "limit": mispPageSize, "page": page,
		}
		if s.cfg.Last != "" {
			q["last"] = s.cfg.Last
		}
		if s.cfg.Timestamp > 0 {
			q["timestamp"] = s.now().Add(-s.cfg.Timestamp).Unix()
		}
		if len(s.cfg.Tags) > 0 {
			q["tags"] = s.cfg.Tags
		}
		body, _ := json.Marshal(q)
		_, data, err := s.cl.do(ctx, http.MethodPost, s.base+"/attributes/restSearch", body, "application/json", b)
		if err != nil {
			return nil, fmt.Errorf("misp restSearch: %w", err)
		}
		var r struct {
			Response struct {
				Attribute []json.RawMessage `json:"Attribute"`
			} `json:"response"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("misp restSearch %s: not an attribute list: %v", s.shown, jsonErr(err))
		}
		out.Write(bytes.TrimSpace(data))
		out.WriteByte('\n')
		if len(r.Response.Attribute) < mispPageSize {
			break
		}
	}
	sum := sha256.Sum256(out.Bytes())
	v := Validators{ETag: "misp-api-" + hex.EncodeToString(sum[:16])}
	if prev.ETag == v.ETag {
		return &Response{NotModified: true, Validators: v}, nil
	}
	return &Response{Body: nopCloser{bytes.NewReader(out.Bytes())}, Validators: v}, nil
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
