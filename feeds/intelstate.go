package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// A TAXII collection or a MISP feed is polled for what changed since the
// last poll (TAXII added_after, the MISP manifest's validators and event
// timestamps); between polls the source holds the objects it has and the
// cursor to ask from. intelStore keeps that cursor in feeds.cache_dir,
// beside the list's cached copy (NAME.state.json), tied to that copy by its
// validator and SHA-256. After a restart or a reload the source takes the
// cached copy the Manager serves back as its own and asks only for what is
// new. A state file that is unreadable, of another source or of another
// copy than the cached one is ignored with a log line: the source asks for
// everything, as on a first start, and never builds on a copy it does not
// hold.

const (
	cacheStateExt = ".state.json"
	// intelStateVersion changes when intelState's meaning does; a file
	// of another version is ignored.
	intelStateVersion = 1
)

// intelState is the saved cursor of one TAXII or MISP feed source.
type intelState struct {
	Version int `json:"version"`
	// Kind is the source kind ("taxii", "misp-feed"); SourceHash the
	// SHA-256 of the configured source, as in cacheMeta.
	Kind       string `json:"kind"`
	SourceHash string `json:"source_sha256"`
	// ETag is the validator of the copy the cursor belongs to, and
	// BodySHA its body's SHA-256.
	ETag    string `json:"etag"`
	BodySHA string `json:"body_sha256"`
	// AddedLast is TAXII's X-TAXII-Date-Added-Last of the last complete
	// poll: the next poll's added_after.
	AddedLast string `json:"added_last,omitempty"`
	// Manifest holds the MISP feed manifest's validators and Events each
	// event's timestamp and place in the body.
	Manifest *Validators  `json:"manifest,omitempty"`
	Events   []stateEvent `json:"events,omitempty"`
	// Changed is the newest attribute timestamp of a MISP restSearch
	// copy (the next change search's "timestamp"), and FullSearch when
	// the whole window was last searched.
	Changed    int64     `json:"changed,omitempty"`
	FullSearch time.Time `json:"full_search,omitzero"`
}

// stateEvent is one MISP feed event in the cached body.
type stateEvent struct {
	UUID      string `json:"uuid"`
	Timestamp string `json:"timestamp"`
	Offset    int    `json:"offset"`
	Length    int    `json:"length"`
}

// intelStore reads and writes one list's intelState. The zero cache (no
// feeds.cache_dir, a local source, a Loader) stores nothing.
type intelStore struct {
	cache      *diskCache
	list, kind string
	sourceHash string
	log        *slog.Logger
	tried      bool // resume was asked once (or a reload handed the state over)
}

func newIntelStore(sp *feedSpec, kind string) *intelStore {
	return &intelStore{list: sp.info.Name, kind: kind, sourceHash: sourceHash(sp.cfg.Source), log: slog.New(slog.DiscardHandler)}
}

// attach gives the store the Manager's cache directory and logger.
func (s *intelStore) attach(m *Manager) {
	if m.cacheDir != "" {
		s.cache = &diskCache{dir: m.cacheDir}
	}
	s.log = m.log
}

// save records st as the cursor of the copy with validator st.ETag. A
// failure is logged: it costs the next restart a full poll, nothing else.
func (s *intelStore) save(st intelState) {
	if s.cache == nil {
		return
	}
	st.Version, st.Kind, st.SourceHash = intelStateVersion, s.kind, s.sourceHash
	b, err := json.Marshal(st)
	if err == nil {
		err = s.cache.writeFile(s.list, cacheStateExt, append(b, '\n'))
	}
	if err != nil {
		s.log.Warn("feed source state not saved; the next restart polls everything", "feed", s.list, "dir", s.cache.dir, "err", err)
	}
}

// resume returns, the first time a source without a copy of its own
// (held "") is asked for one, the saved cursor of the cached copy with
// validator etag and that copy's body; else ok is false (logged when a
// saved state is not used).
func (s *intelStore) resume(held, etag string) (st intelState, body []byte, ok bool) {
	if s.tried || held != "" || s.cache == nil || etag == "" {
		return st, nil, false
	}
	s.tried = true
	st, body, err := s.read(etag)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.ignore(err.Error())
		}
		return st, nil, false
	}
	return st, body, true
}

// ignore logs why a saved state is not used.
func (s *intelStore) ignore(reason string) {
	s.log.Warn("feed source state ignored; polling everything", "feed", s.list, "dir", s.cache.dir, "reason", reason)
}

func (s *intelStore) read(etag string) (intelState, []byte, error) {
	var st intelState
	b, err := os.ReadFile(s.cache.base(s.list) + cacheStateExt)
	if err != nil {
		return st, nil, err
	}
	switch err := json.Unmarshal(b, &st); {
	case err != nil:
		return st, nil, fmt.Errorf("%s%s is corrupt: %v", s.list, cacheStateExt, jsonErr(err))
	case st.Version != intelStateVersion || st.Kind != s.kind:
		return st, nil, fmt.Errorf("%s%s is version %d of kind %q, not version %d of %q", s.list, cacheStateExt, st.Version, st.Kind, intelStateVersion, s.kind)
	case st.SourceHash != s.sourceHash:
		return st, nil, errOtherSource
	case st.ETag != etag:
		return st, nil, fmt.Errorf("it belongs to another copy (%q) than the cached one (%q)", st.ETag, etag)
	}
	body, err := os.ReadFile(s.cache.base(s.list) + cacheBodyExt)
	if err != nil {
		return st, nil, fmt.Errorf("cached copy: %w", err)
	}
	if bodySum(body) != st.BodySHA {
		return st, nil, errors.New("the cached copy's SHA-256 does not match the state's")
	}
	return st, body, nil
}

// managedSource is a source that needs the Manager (its logger, clock,
// metrics or cache directory); NewManager attaches it.
type managedSource interface{ attach(m *Manager) }

// adoptingSource is a source that can take over the state of the running
// source of the same list on a reload (feed.adopt).
type adoptingSource interface{ adoptFrom(old Source) }
