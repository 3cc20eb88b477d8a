package feeds

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://feeds.example/list.txt", "https://feeds.example/list.txt"},
		{"https://feeds.example/l?key=s3cr3t&format=hosts", "https://feeds.example/l?format=REDACTED&key=REDACTED"},
		{"https://user:s3cr3t@feeds.example/l", "https://REDACTED@feeds.example/l"},
		{"file:/etc/x.txt", "file:/etc/x.txt"},
	}
	for _, tt := range tests {
		if got := redactSource(tt.in); got != tt.want {
			t.Errorf("redactSource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A spec that does not parse still hides what follows "?" or "@".
	if got := redactURL("https://x\x7f?key=s3cr3t"); strings.Contains(got, "s3cr3t") {
		t.Errorf("redactURL kept the secret: %q", got)
	}
}

// TestCacheDir: leftover temporary files are removed at start, a lost
// meta file still yields the body, and corrupt meta is ignored.
func TestCacheDir(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"f.list":             "a.example\n",
		"g.list":             "b.example\n",
		"g.json":             "{not json",
		"f.list.tmp-1234":    "half",
		"x.json.tmp-99":      "half",
		"unrelated-file.txt": "keep",
	} {
		writeFile(t, dir, name, body)
	}
	c, err := openCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 4 {
		t.Errorf("after openCache: %d files, want 4 (temporaries removed)", len(ents))
	}
	for _, list := range []string{"f", "g"} {
		f, meta, err := c.open(list, "https://x.example/"+list)
		if err != nil {
			t.Errorf("%s: %v", list, err)
			continue
		}
		f.Close()
		if meta.Fetched.IsZero() || meta.ETag != "" {
			t.Errorf("%s: meta %+v, want the body's mtime and no validators", list, meta)
		}
	}
	if _, _, err := c.open("none", "x"); err == nil {
		t.Error("open of a missing list succeeded")
	}
	// A list name with a slash stays inside the directory.
	tmp, err := c.begin("a/../../b")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.commit(tmp, "a/../../b", cacheMeta{SourceHash: sourceHash("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a%2F..%2F..%2Fb.list")); err != nil {
		t.Errorf("escaped name: %v", err)
	}
}

// TestCacheNamesStayInDir: whatever name reaches the disk cache (the
// config rejects these, the cache does not rely on it), its files are
// written inside cache_dir and nowhere else.
func TestCacheNamesStayInDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "cache")
	c, err := openCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"..", ".", "../x", "..%2F", `..\x`} {
		tmp, err := c.begin(name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if err := c.commit(tmp, name, cacheMeta{SourceHash: sourceHash("s")}); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "cache" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files written beside cache_dir: %q", names)
	}
	inside, _ := os.ReadDir(dir)
	if len(inside) != 10 { // a .list and a .json per name
		t.Errorf("%d files in cache_dir, want 10", len(inside))
	}
}

// TestManagerRejectsUnsafeListName: a list named ".." is a config error,
// not a file written outside cache_dir.
func TestManagerRejectsUnsafeListName(t *testing.T) {
	_, err := NewManager(Options{Config: Config{CacheDir: t.TempDir()}, Blocklists: []ListConfig{{Name: "..", Source: "https://x.example/l"}}})
	if err == nil || !strings.Contains(err.Error(), "blocklists[0].name") {
		t.Fatalf("NewManager with a list named \"..\": %v, want an error at blocklists[0].name", err)
	}
}

// TestLoaderRemoteLists: the offline Loader reports a remote list without
// a cached copy as not loaded, and loads one with a copy.
func TestLoaderRemoteLists(t *testing.T) {
	srv := newFeedServer(t, "remote.example\n")
	dir := t.TempDir()
	lists := []ListConfig{{Name: "r", Source: srv.URL}, {Name: "local", Source: "file:" + writeTemp(t, "local.example\n")}}
	l := Loader{Feeds: Config{CacheDir: dir}}
	tab, reps, err := l.Load(context.Background(), lists, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Format != "" || !strings.Contains(reps[0].LastError, "no cached copy in "+dir) || tab.Lists[0].Entries != 0 || reps[1].Entries != 1 {
		t.Errorf("without cache: %+v", reps)
	}
	if srv.hits.Load() != 0 {
		t.Error("the offline loader used the network")
	}

	m := newTestManager(t, func(o *Options) { o.Config.CacheDir, o.Blocklists = dir, lists })
	m.start(t)
	m.Close()
	tab, reps, err = l.Load(context.Background(), lists, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Origin != OriginCache || reps[0].Updated.IsZero() || !strings.HasPrefix(reps[0].Source, "http://127.0.0.1") {
		t.Errorf("with cache: %+v", reps[0])
	}
	if mt, ok := tab.Set.Match("remote.example"); !ok || mt.Allow {
		t.Error("the cached copy is not in the table")
	}
	// After the URL changes, the old copy is not used, and the report says why.
	lists[0].Source += "/v2"
	_, reps, _ = l.Load(context.Background(), lists, nil)
	if !strings.Contains(reps[0].LastError, "of another source") {
		t.Errorf("changed source: %+v", reps[0])
	}
}

// TestRedirects: a redirect to another host does not carry the configured
// headers; one to the same host does; https never downgrades to http.
func TestRedirects(t *testing.T) {
	t.Setenv("BULWARK_TEST_KEY", "k")
	other := newFeedServer(t, "moved.example\n")
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/list", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/list", http.StatusFound)
		default:
			if r.Header.Get("X-Api-Key") != "k" {
				http.Error(w, "no key", http.StatusForbidden)
				return
			}
			_, _ = io.WriteString(w, "same.example\n")
		}
	}))
	t.Cleanup(origin.Close)
	hdr := map[string]string{"X-Api-Key": "${BULWARK_TEST_KEY}"}
	tm := newTestManager(t, func(o *Options) {
		o.Blocklists = []ListConfig{
			{Name: "away", Source: origin.URL + "/away", Headers: hdr},
			{Name: "here", Source: origin.URL + "/here", Headers: hdr},
		}
	})
	tm.start(t)
	if !tm.blocked("moved.example") || !tm.blocked("same.example") {
		t.Fatal("redirected lists not loaded")
	}
	if other.lastHeaders().Get("X-Api-Key") != "" {
		t.Error("the API key followed a redirect to another host")
	}

	s := &httpSource{headers: hdr}
	from, _ := http.NewRequest("GET", "https://feeds.example/l", nil)
	to, _ := http.NewRequest("GET", "http://feeds.example/l", nil)
	if err := s.checkRedirect(to, []*http.Request{from}); err == nil || !strings.Contains(err.Error(), "https to http") {
		t.Errorf("downgrade allowed: %v", err)
	}
}
