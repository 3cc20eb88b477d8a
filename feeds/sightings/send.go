package sightings

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-dns/bulwark/feeds"
	"github.com/bulwark-dns/bulwark/internal/atomicfile"
)

// stixTime is the STIX timestamp form (RFC 3339, UTC, milliseconds).
const stixTime = "2006-01-02T15:04:05.000Z"

// maxCount is the largest count a STIX sighting may carry.
const maxCount = 999999999

// Sighting is a STIX 2.1 sighting (OASIS STIX 2.1, section 5.2) as
// Bulwark writes it.
type Sighting struct {
	Type             string   `json:"type"`
	SpecVersion      string   `json:"spec_version"`
	ID               string   `json:"id"`
	Created          string   `json:"created"`
	Modified         string   `json:"modified"`
	CreatedByRef     string   `json:"created_by_ref,omitempty"`
	Count            int      `json:"count"`
	FirstSeen        string   `json:"first_seen"`
	LastSeen         string   `json:"last_seen"`
	SightingOfRef    string   `json:"sighting_of_ref"`
	WhereSightedRefs []string `json:"where_sighted_refs"`
	// Clients are the blocked clients' addresses, only with
	// include_clients.
	Clients []string `json:"x_bulwark_client_addresses,omitempty"`
}

// mispSighting is one MISP sighting to add.
type mispSighting struct {
	list, attribute string
	at              time.Time
}

// report is one interval's sightings.
type report struct {
	stix []Sighting
	misp []mispSighting
}

func (c *Collector) report(counts map[aggKey]*agg, now time.Time) *report {
	rep := &report{}
	keys := make([]aggKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b aggKey) int { // stable output: by indicator, then identity
		return strings.Compare(a.kind+a.id+a.list+strconv.Itoa(a.tenant), b.kind+b.id+b.list+strconv.Itoa(b.tenant))
	})
	ts := now.UTC().Format(stixTime)
	for _, k := range keys {
		a := counts[k]
		switch k.kind {
		case feeds.IntelSTIX:
			where := c.cfg.Identity
			if k.tenant >= 0 {
				where = c.tenants[k.tenant].identity
			}
			s := Sighting{Type: "sighting", SpecVersion: "2.1", ID: "sighting--" + newUUID(), Created: ts, Modified: ts,
				CreatedByRef: c.cfg.Identity, Count: min(a.count, maxCount),
				FirstSeen: a.first.UTC().Format(stixTime), LastSeen: a.last.UTC().Format(stixTime),
				SightingOfRef: k.id, WhereSightedRefs: []string{where}}
			for addr := range a.clients {
				s.Clients = append(s.Clients, addr.String())
			}
			slices.Sort(s.Clients)
			rep.stix = append(rep.stix, s)
		case feeds.IntelMISP:
			rep.misp = append(rep.misp, mispSighting{list: k.list, attribute: k.id, at: a.last})
		}
	}
	return rep
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// destination is one place reports go. It keeps what it could not
// deliver yet.
type destination interface {
	name() string
	add(rep *report)
	pending() int
	// trim drops the oldest pending sightings beyond max; it returns how
	// many.
	trim(max int) int
	// send tries to deliver every pending sighting and returns how many it
	// delivered; the rest stay pending.
	send(ctx context.Context) (int, error)
}

// retryBase is the first pause between retries within one report; it
// doubles per retry.
const retryBase = time.Second

func (c *Collector) deliver(ctx context.Context, d destination, rep *report) error {
	d.add(rep)
	var err error
	for try := 0; d.pending() > 0; try++ {
		var n int
		n, err = d.send(ctx)
		c.met.delivered(d.name(), n)
		if err == nil {
			break
		}
		c.met.failed(d.name())
		if try >= c.cfg.Retries || ctx.Err() != nil {
			break
		}
		wait := retryBase << try
		var be *busyError
		if errors.As(err, &be) && be.wait > 0 {
			wait = min(be.wait, time.Minute)
		}
		if c.sleep(ctx, wait) != nil {
			break
		}
	}
	c.met.drop(dropPending, d.trim(c.cfg.MaxPending))
	c.met.waiting(d.name(), d.pending())
	if err != nil {
		return fmt.Errorf("sightings to %s: %w", d.name(), err)
	}
	return nil
}

// busyError is a 429 or 503, with the server's Retry-After.
type busyError struct {
	status string
	wait   time.Duration
}

func (e *busyError) Error() string { return "HTTP " + e.status }

// httpOut sends requests for the TAXII and MISP destinations.
type httpOut struct {
	client    *http.Client
	userAgent string
	timeout   time.Duration
}

// do sends one request and returns the answer's body (at most 1 MiB).
func (h *httpOut) do(ctx context.Context, method, target string, body []byte, media string, auth func(*http.Request) error) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", h.userAgent)
	req.Header.Set("Content-Type", media)
	req.Header.Set("Accept", media)
	if auth != nil {
		if err := auth(req); err != nil {
			return nil, err
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, redact(target), err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		be := &busyError{status: resp.Status}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n >= 0 {
			be.wait = time.Duration(n) * time.Second
		}
		return nil, fmt.Errorf("%s %s: %w", method, redact(target), be)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("%s %s: HTTP %s", method, redact(target), resp.Status)
	}
	return data, nil
}

// redact drops a URL's query and credentials, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// taxiiMedia is the TAXII 2.1 media type.
const taxiiMedia = "application/taxii+json;version=2.1"

// taxiiBatch bounds the objects per POST (servers have a
// max_content_length).
const taxiiBatch = 500

// taxiiOut posts sightings to a TAXII 2.1 collection (POST
// {collection}/objects/, section 5.5).
type taxiiOut struct {
	objectsURL string
	auth       func(*http.Request) error
	h          *httpOut
	queue      []Sighting
}

func newTAXIIOut(cfg TAXIIConfig, baseDir string, h *httpOut) *taxiiOut {
	u := cfg.Collection
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return &taxiiOut{objectsURL: u + "objects/", h: h, auth: func(req *http.Request) error {
		switch {
		case cfg.Token != "":
			t, err := feeds.ResolveSecret(cfg.Token, baseDir)
			if err != nil {
				return fmt.Errorf("sightings.taxii.token: %w", err)
			}
			req.Header.Set("Authorization", "Bearer "+t)
		case cfg.Username != "":
			u, err := feeds.ResolveSecret(cfg.Username, baseDir)
			if err != nil {
				return fmt.Errorf("sightings.taxii.username: %w", err)
			}
			p, err := feeds.ResolveSecret(cfg.Password, baseDir)
			if err != nil {
				return fmt.Errorf("sightings.taxii.password: %w", err)
			}
			req.SetBasicAuth(u, p)
		}
		return nil
	}}
}

func (t *taxiiOut) name() string     { return destTAXII }
func (t *taxiiOut) add(rep *report)  { t.queue = append(t.queue, rep.stix...) }
func (t *taxiiOut) pending() int     { return len(t.queue) }
func (t *taxiiOut) trim(max int) int { return trimQueue(&t.queue, max) }

func (t *taxiiOut) send(ctx context.Context) (int, error) {
	sent := 0
	for len(t.queue) > 0 {
		n := min(len(t.queue), taxiiBatch)
		body, err := json.Marshal(struct {
			Objects []Sighting `json:"objects"`
		}{t.queue[:n]})
		if err != nil {
			return sent, err
		}
		data, err := t.h.do(ctx, http.MethodPost, t.objectsURL, body, taxiiMedia, t.auth)
		if err != nil {
			return sent, err
		}
		var st struct {
			FailureCount int `json:"failure_count"`
			Failures     []struct {
				ID      string `json:"id"`
				Message string `json:"message"`
			} `json:"failures"`
		}
		if json.Unmarshal(data, &st) == nil && st.FailureCount > 0 {
			// The server refused some objects as they are: sending them
			// again would not help.
			msg := ""
			if len(st.Failures) > 0 {
				msg = st.Failures[0].Message
			}
			t.queue = t.queue[n:]
			return sent + n - st.FailureCount, fmt.Errorf("the TAXII server refused %d of %d sightings: %s", st.FailureCount, n, msg)
		}
		t.queue = t.queue[n:]
		sent += n
	}
	t.queue = nil
	return sent, nil
}

func trimQueue[T any](q *[]T, max int) int {
	if over := len(*q) - max; over > 0 {
		*q = append([]T(nil), (*q)[over:]...)
		return over
	}
	return 0
}

// dirOut writes each report as a STIX bundle file, atomically (temporary
// file and rename), keeping at most maxFiles.
type dirOut struct {
	dir      string
	maxFiles int
	queue    []Sighting
	seq      int
}

func newDirOut(dir, baseDir string, maxFiles int) *dirOut {
	if !filepath.IsAbs(dir) && baseDir != "" {
		dir = filepath.Join(baseDir, dir)
	}
	return &dirOut{dir: dir, maxFiles: maxFiles}
}

func (d *dirOut) name() string     { return destDir }
func (d *dirOut) add(rep *report)  { d.queue = append(d.queue, rep.stix...) }
func (d *dirOut) pending() int     { return len(d.queue) }
func (d *dirOut) trim(max int) int { return trimQueue(&d.queue, max) }

// bundlePrefix starts every bundle file's name.
const bundlePrefix = "sightings-"

func (d *dirOut) send(context.Context) (int, error) {
	if len(d.queue) == 0 {
		return 0, nil
	}
	body, err := json.MarshalIndent(struct {
		Type    string     `json:"type"`
		ID      string     `json:"id"`
		Objects []Sighting `json:"objects"`
	}{"bundle", "bundle--" + newUUID(), d.queue}, "", " ")
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(d.dir, 0o750); err != nil {
		return 0, err
	}
	d.seq++
	name := fmt.Sprintf("%s%s-%04d.json", bundlePrefix, time.Now().UTC().Format("20060102T150405Z"), d.seq%10000)
	tmp, err := os.CreateTemp(d.dir, ".tmp-"+bundlePrefix+"*")
	if err != nil {
		return 0, err
	}
	_, err = tmp.Write(append(body, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if err := atomicfile.Finish(tmp, filepath.Join(d.dir, name), err); err != nil {
		return 0, err
	}
	n := len(d.queue)
	d.queue = nil
	d.prune()
	return n, nil
}

// prune removes the oldest bundle files beyond maxFiles (names sort by
// time).
func (d *dirOut) prune() {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return
	}
	var files []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), bundlePrefix) && strings.HasSuffix(e.Name(), ".json") {
			files = append(files, e.Name())
		}
	}
	slices.Sort(files)
	for len(files) > d.maxFiles {
		_ = os.Remove(filepath.Join(d.dir, files[0]))
		files = files[1:]
	}
}

// mispOut adds MISP sightings (POST /sightings/add with the attribute's
// uuid), one per attribute and report: MISP counts sightings one by one,
// and a report is one sighting of each attribute that blocked.
type mispOut struct {
	targets map[string]feeds.MISPSightingTarget
	source  string
	h       *httpOut
	queue   []mispSighting
}

func newMISPOut(targets []feeds.MISPSightingTarget, source string, h *httpOut) *mispOut {
	m := &mispOut{targets: map[string]feeds.MISPSightingTarget{}, source: source, h: h}
	for _, t := range targets {
		m.targets[t.List] = t
	}
	return m
}

func (m *mispOut) name() string { return destMISP }
func (m *mispOut) add(rep *report) {
	for _, s := range rep.misp {
		if _, ok := m.targets[s.list]; ok {
			m.queue = append(m.queue, s)
		}
	}
}
func (m *mispOut) pending() int     { return len(m.queue) }
func (m *mispOut) trim(max int) int { return trimQueue(&m.queue, max) }

func (m *mispOut) send(ctx context.Context) (int, error) {
	sent := 0
	for len(m.queue) > 0 {
		s := m.queue[0]
		t := m.targets[s.list]
		body, _ := json.Marshal(map[string]any{"uuid": s.attribute, "source": m.source, "type": "0",
			"timestamp": s.at.Unix()})
		auth := func(req *http.Request) error {
			k, err := t.Key()
			if err != nil {
				return fmt.Errorf("misp.key of list %q: %w", t.List, err)
			}
			req.Header.Set("Authorization", k)
			return nil
		}
		if _, err := m.h.do(ctx, http.MethodPost, t.URL+"/sightings/add", body, "application/json", auth); err != nil {
			return sent, err
		}
		m.queue = m.queue[1:]
		sent++
	}
	m.queue = nil
	return sent, nil
}
