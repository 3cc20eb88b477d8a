package feeds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TAXII 2.1 media type (OASIS TAXII 2.1, section 1.6.8).
const taxiiMedia = "application/taxii+json;version=2.1"

// Defaults of TAXIIConfig.
const (
	defaultTAXIIPageSize = 1000
	defaultTAXIIMaxPages = 1000
)

// taxiiSource polls one TAXII 2.1 collection. It keeps the newest version
// of every indicator it has received, so that each poll asks only for
// what was added since the last one (added_after, from the
// X-TAXII-Date-Added-Last header) and still hands the parser the whole
// collection as one STIX bundle. That bundle is what the disk cache,
// min_ratio and last-good copy see, as for any list. The cursor is saved
// beside the cached copy (intelstate.go), so after a restart the source
// takes that copy back and asks only for what was added since.
type taxiiSource struct {
	source string
	shown  string
	cfg    TAXIIConfig
	cl     *intelClient
	store  *intelStore

	mu         sync.Mutex // one poll at a time (the Manager already serialises)
	objectsURL string     // resolved once
	objects    map[string]*taxiiObject
	order      []string // ids in arrival order
	added      string   // X-TAXII-Date-Added-Last of the last complete poll
	state      string   // validator of the bundle last handed out: "taxii-" and its SHA-256
	sum        string   // the bundle's SHA-256
}

type taxiiObject struct {
	raw      json.RawMessage
	modified time.Time
}

func newTAXIISource(raw string, cfg TAXIIConfig, sp *feedSpec, env specEnv) *taxiiSource {
	if cfg.PageSize == 0 {
		cfg.PageSize = defaultTAXIIPageSize
	}
	if cfg.MaxPages == 0 {
		cfg.MaxPages = defaultTAXIIMaxPages
	}
	s := &taxiiSource{source: raw, shown: "taxii:" + redactURL(raw), cfg: cfg, cl: newIntelClient(raw, sp, env),
		store: newIntelStore(sp, "taxii")}
	s.cl.auth = func(req *http.Request) error {
		switch {
		case cfg.Token != "":
			tok, err := resolveHeader(cfg.Token, env.baseDir)
			if err != nil {
				return fmt.Errorf("taxii.token: %w", err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		case cfg.Username != "":
			u, err := resolveHeader(cfg.Username, env.baseDir)
			if err != nil {
				return fmt.Errorf("taxii.username: %w", err)
			}
			p, err := resolveHeader(cfg.Password, env.baseDir)
			if err != nil {
				return fmt.Errorf("taxii.password: %w", err)
			}
			req.SetBasicAuth(u, p)
		}
		return nil
	}
	return s
}

func (s *taxiiSource) String() string { return s.shown }
func (s *taxiiSource) Remote() bool   { return true }

func (s *taxiiSource) attach(m *Manager) { s.store.attach(m) }

// adoptFrom takes over the objects and cursor of the running source of the
// same collection (a reload), so the next poll asks only for what is new.
func (s *taxiiSource) adoptFrom(old Source) {
	o, ok := old.(*taxiiSource)
	if !ok || o.source != s.source || o.cfg != s.cfg {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	// The maps are never changed in place (Fetch works on copies).
	s.objectsURL, s.objects, s.order, s.added, s.state, s.sum = o.objectsURL, o.objects, o.order, o.added, o.state, o.sum
	s.store.tried = true
}

// resume takes back the bundle the caller holds (prev, its cached copy
// after a restart) and the cursor saved with it, once.
func (s *taxiiSource) resume(prev Validators) {
	st, body, ok := s.store.resume(s.state, prev.ETag)
	if !ok {
		return
	}
	var bundle struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &bundle); err != nil {
		s.store.ignore("the cached bundle is not JSON: " + jsonErr(err).Error())
		return
	}
	objects := make(map[string]*taxiiObject, len(bundle.Objects))
	order := make([]string, 0, len(bundle.Objects))
	for _, raw := range bundle.Objects {
		if id, mod, ok := taxiiIndicator(raw); ok && objects[id] == nil {
			objects[id] = &taxiiObject{raw: raw, modified: mod}
			order = append(order, id)
		}
	}
	s.objects, s.order, s.added, s.state, s.sum = objects, order, st.AddedLast, prev.ETag, st.BodySHA
	s.store.log.Info("feed source resumed from its saved state", "feed", s.store.list, "indicators", len(order), "added_after", st.AddedLast)
}

// Fetch polls the collection. It answers NotModified when nothing was
// added and the caller holds the bundle of the previous poll.
func (s *taxiiSource) Fetch(ctx context.Context, prev Validators) (*Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume(prev)
	b := newBudget(s.cl.src.maxSize)
	if s.objectsURL == "" {
		u, err := s.resolve(ctx, b)
		if err != nil {
			return nil, err
		}
		s.objectsURL = u
	}
	// Work on copies: a poll that fails half way changes nothing.
	objects := make(map[string]*taxiiObject, len(s.objects))
	for k, v := range s.objects {
		objects[k] = v
	}
	order := append([]string(nil), s.order...)
	added, changed, err := s.poll(ctx, b, objects, &order)
	if err != nil {
		return nil, err
	}
	if !changed && s.state != "" && prev.ETag == s.state {
		if added != s.added {
			s.added = added
			s.store.save(intelState{ETag: s.state, BodySHA: s.sum, AddedLast: added})
		}
		return &Response{NotModified: true, Validators: prev}, nil
	}
	body, err := taxiiBundle(objects, order)
	if err != nil {
		return nil, err
	}
	s.objects, s.order, s.added = objects, order, added
	s.sum = bodySum(body)
	s.state = "taxii-" + s.sum[:32]
	s.store.save(intelState{ETag: s.state, BodySHA: s.sum, AddedLast: added})
	return &Response{Body: nopCloser{bytes.NewReader(body)}, Validators: Validators{ETag: s.state}}, nil
}

// resolve finds the collection's objects URL: the source itself when it
// is a collection URL, else through discovery and the API root's
// collection list.
func (s *taxiiSource) resolve(ctx context.Context, b *budget) (string, error) {
	base, err := url.Parse(s.source)
	if err != nil {
		return "", fmt.Errorf("taxii %s: %w", s.shown, err)
	}
	if s.cfg.Collection == "" { // validated: a .../collections/ID/ URL
		return dirURL(base).JoinPath("objects/").String(), nil
	}
	root := base
	if s.cfg.APIRoot != "" {
		r, err := base.Parse(s.cfg.APIRoot)
		if err != nil {
			return "", fmt.Errorf("taxii.api_root %q: %w", s.cfg.APIRoot, err)
		}
		root = r
	} else {
		// Discovery (section 4.1) or an API root (4.2): a discovery
		// answer lists api_roots.
		_, data, err := s.cl.do(ctx, http.MethodGet, base.String(), nil, taxiiMedia, b)
		if err != nil {
			return "", fmt.Errorf("taxii discovery: %w", err)
		}
		var d struct {
			Default  string   `json:"default"`
			APIRoots []string `json:"api_roots"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return "", fmt.Errorf("taxii discovery %s: %v", redactURL(base.String()), err)
		}
		pick := d.Default
		if pick == "" && len(d.APIRoots) > 0 {
			pick = d.APIRoots[0]
		}
		if pick != "" {
			if root, err = base.Parse(pick); err != nil {
				return "", fmt.Errorf("taxii discovery: api root %q: %w", pick, err)
			}
		} else if len(d.APIRoots) == 0 && d.Default == "" && !bytes.Contains(data, []byte(`"max_content_length"`)) {
			return "", fmt.Errorf("taxii %s: neither a discovery answer nor an API root", s.shown)
		}
	}
	root = dirURL(root)
	_, data, err := s.cl.do(ctx, http.MethodGet, root.JoinPath("collections/").String(), nil, taxiiMedia, b)
	if err != nil {
		return "", fmt.Errorf("taxii collections: %w", err)
	}
	var cols struct {
		Collections []struct {
			ID      string `json:"id"`
			Title   string `json:"title"`
			CanRead bool   `json:"can_read"`
		} `json:"collections"`
	}
	if err := json.Unmarshal(data, &cols); err != nil {
		return "", fmt.Errorf("taxii collections of %s: %v", redactURL(root.String()), err)
	}
	var names []string
	for _, c := range cols.Collections {
		if c.ID != s.cfg.Collection && c.Title != s.cfg.Collection {
			names = append(names, c.Title+" ("+c.ID+")")
			continue
		}
		if !c.CanRead {
			return "", fmt.Errorf("taxii collection %q: can_read is false for these credentials", s.cfg.Collection)
		}
		return root.JoinPath("collections", url.PathEscape(c.ID), "/").JoinPath("objects/").String(), nil
	}
	return "", fmt.Errorf("taxii collection %q not found at %s (the server lists: %s)", s.cfg.Collection,
		redactURL(root.String()), strings.Join(names, ", "))
}

// dirURL makes u end in "/", so relative paths go below it.
func dirURL(u *url.URL) *url.URL {
	c := *u
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
		c.RawPath = ""
	}
	return &c
}

// poll reads every page added since s.added into objects. It returns the
// newest X-TAXII-Date-Added-Last and whether any object was new or newer.
func (s *taxiiSource) poll(ctx context.Context, b *budget, objects map[string]*taxiiObject, order *[]string) (string, bool, error) {
	// added is the query's added_after; a next token pages within that
	// query, and newest is the latest date_added seen, for the next poll
	// (and for paging by date on a server without next).
	added, next, newest := s.added, "", s.added
	changed := false
	for page := 0; ; page++ {
		if page >= s.cfg.MaxPages {
			return "", false, fmt.Errorf("taxii %s: more than taxii.max_pages %d pages in one poll", s.shown, s.cfg.MaxPages)
		}
		u, _ := url.Parse(s.objectsURL)
		q := u.Query()
		q.Set("limit", strconv.Itoa(s.cfg.PageSize))
		if added != "" {
			q.Set("added_after", added)
		}
		if next != "" {
			q.Set("next", next)
		}
		u.RawQuery = q.Encode()
		resp, data, err := s.cl.do(ctx, http.MethodGet, u.String(), nil, taxiiMedia, b)
		if err != nil {
			return "", false, fmt.Errorf("taxii objects: %w", err)
		}
		var env struct {
			More    bool              `json:"more"`
			Next    string            `json:"next"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(data, &env); err != nil {
			return "", false, fmt.Errorf("taxii objects of %s: not a TAXII envelope: %v", s.shown, jsonErr(err))
		}
		for _, raw := range env.Objects {
			id, mod, ok := taxiiIndicator(raw)
			if !ok {
				continue // only indicators become rules; bad ones were never rules
			}
			if old, ok := objects[id]; ok {
				if !mod.After(old.modified) {
					continue
				}
			} else {
				*order = append(*order, id)
			}
			objects[id] = &taxiiObject{raw: raw, modified: mod}
			changed = true
		}
		last := resp.Header.Get("X-TAXII-Date-Added-Last")
		if last != "" {
			newest = last
		}
		if !env.More {
			return newest, changed, nil
		}
		switch {
		case env.Next != "":
			next = env.Next
		case last != "": // a server without next: page on by date
			added, next = last, ""
		default:
			return "", false, fmt.Errorf("taxii %s: more is true but the answer has neither next nor X-TAXII-Date-Added-Last", s.shown)
		}
	}
}

// taxiiIndicator returns the id and modified time of an indicator object;
// ok is false for any other object.
func taxiiIndicator(raw json.RawMessage) (id string, modified time.Time, ok bool) {
	var o struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Modified string `json:"modified"`
	}
	if json.Unmarshal(raw, &o) != nil || o.Type != "indicator" || o.ID == "" {
		return "", time.Time{}, false
	}
	modified, _ = parseSTIXTime(o.Modified)
	return o.ID, modified, true
}

// taxiiBundle writes the indicators as one STIX bundle (revoked ones
// included: the parser counts them as skipped).
func taxiiBundle(objects map[string]*taxiiObject, order []string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[`)
	for i, id := range order {
		o := objects[id]
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := json.Compact(&buf, o.raw); err != nil {
			return nil, errors.New("taxii: an object is not valid JSON")
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]}\n")
	return buf.Bytes(), nil
}

// nopCloser makes a reader a ReadCloser.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
