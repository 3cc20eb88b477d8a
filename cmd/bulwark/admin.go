package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer is the admin HTTP API on listen.admin. Everything but
// POST /reload only reads; POST /reload needs admin.token when one is
// set, and comes from a loopback client otherwise.
type adminServer struct {
	addr string // as configured
	srv  *http.Server
}

// startAdmin listens on addr and serves the admin API of d.
func startAdmin(addr string, d *daemon) (*adminServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return serveAdmin(addr, ln, d), nil
}

func serveAdmin(addr string, ln net.Listener, d *daemon) *adminServer {
	a := &adminServer{addr: addr, srv: &http.Server{Handler: d.adminHandler(), ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("admin server stopped", "err", err)
		}
	}()
	d.logger.Info("serving admin", "addr", ln.Addr().String())
	return a
}

// close stops the admin server at once (shutdown).
func (a *adminServer) close() {
	if a != nil {
		a.srv.Close()
	}
}

// adminPlan is the admin listener of a configuration being loaded: a new
// address is bound before the swap (an address in use fails the reload)
// and served after it; the old server then finishes its requests — the
// POST /reload that asked for the change among them — and closes.
type adminPlan struct {
	d       *daemon
	cur     *adminServer
	addr    string
	ln      net.Listener // bound for the new address
	changed bool
}

// prepare binds addr if it differs from the address a (nil: none) serves.
func (a *adminServer) prepare(addr string, d *daemon) (*adminPlan, error) {
	p := &adminPlan{d: d, cur: a, addr: addr}
	curAddr := ""
	if a != nil {
		curAddr = a.addr
	}
	if sameAddr(curAddr, addr) {
		return p, nil
	}
	p.changed = true
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		p.ln = ln
	}
	return p, nil
}

func sameAddr(a, b string) bool {
	if a == b {
		return true
	}
	pa, errA := netip.ParseAddrPort(a)
	pb, errB := netip.ParseAddrPort(b)
	return errA == nil && errB == nil && pa == pb
}

// abort releases what prepare bound.
func (p *adminPlan) abort() {
	if p.ln != nil {
		p.ln.Close()
	}
}

// commit serves the new address and retires the old server; it returns
// the admin server now in force (nil: none).
func (p *adminPlan) commit() *adminServer {
	if !p.changed {
		return p.cur
	}
	var next *adminServer
	if p.ln != nil {
		next = serveAdmin(p.addr, p.ln, p.d)
	}
	if old := p.cur; old != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = old.srv.Shutdown(ctx)
		}()
		p.d.logger.Info("admin address changed", "from", old.addr, "to", p.addr)
	}
	return next
}

// pprofOnly serves h only while admin.pprof is on.
func (d *daemon) pprofOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if g := d.cur.Load(); g == nil || !g.cfg.Admin.Pprof {
			http.Error(w, "profiling is off (admin.pprof: true turns it on)", http.StatusNotFound)
			return
		}
		h(w, r)
	}
}

// adminHandler routes the admin API. Read-only endpoints are open;
// POST /reload is authorized by authorizeChange.
func (d *daemon) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.pm.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := d.readiness(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /lists", d.handleLists)
	mux.HandleFunc("GET /stats", d.handleStats)
	mux.HandleFunc("GET /explain", d.handleExplain)
	mux.HandleFunc("POST /reload", d.handleReload)
	mux.HandleFunc("GET /debug/pprof/", d.pprofOnly(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/profile", d.pprofOnly(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/trace", d.pprofOnly(pprof.Trace))
	mux.HandleFunc("GET /debug/pprof/symbol", d.pprofOnly(pprof.Symbol))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(adminIndex))
	})
	return mux
}

const adminIndex = `Bulwark admin API
GET  /metrics             Prometheus metrics
GET  /healthz             the process is up
GET  /readyz              200 once every list is loaded and DNS is served
GET  /lists               each list: source, format, entries, last success, last error (JSON)
GET  /stats               queries, blocks, cache, upstreams, blocklist size (JSON)
GET  /explain?name=NAME   how NAME is answered and why (JSON; &format=text for text)
POST /reload              re-read the config file (admin.token, or a loopback client without one)
`

// handleReload is POST /reload: the same reload as SIGHUP, answered once
// it is done.
func (d *daemon) handleReload(w http.ResponseWriter, r *http.Request) {
	if !d.authorizeChange(w, r) {
		return
	}
	start := time.Now()
	err := d.reload("POST /reload")
	resp := map[string]any{"result": reloadSuccess, "config": d.name, "took_seconds": time.Since(start).Seconds()}
	code := http.StatusOK
	switch {
	case errors.Is(err, errNotServing):
		resp["result"], resp["error"], code = reloadFailure, err.Error(), http.StatusServiceUnavailable
	case err != nil:
		resp["result"], resp["error"], code = reloadFailure, err.Error()+"; the running configuration stays", http.StatusInternalServerError
	}
	writeJSON(w, code, resp)
}

// authorizeChange lets a request that changes state through: with a token
// configured, only with "Authorization: Bearer TOKEN"; without one, only
// from a loopback client. Otherwise it answers 401 or 403 and says why.
func (d *daemon) authorizeChange(w http.ResponseWriter, r *http.Request) bool {
	token := ""
	if g := d.cur.Load(); g != nil {
		token = g.token
	}
	if token == "" {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().Unmap().IsLoopback() {
			return true
		}
		http.Error(w, "forbidden: without admin.token, "+r.Method+" "+r.URL.Path+" is accepted from loopback clients only", http.StatusForbidden)
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// Hashing first makes the comparison constant-time in the length too.
	want, have := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(strings.TrimSpace(got)))
	if !ok || subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bulwark admin"`)
		http.Error(w, "unauthorized: "+r.Method+" "+r.URL.Path+" needs the admin token (Authorization: Bearer TOKEN)", http.StatusUnauthorized)
		return false
	}
	return true
}

// listStatus is one list in GET /lists.
type listStatus struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // block or allow
	Source   string `json:"source"`
	Format   string `json:"format,omitempty"`
	Action   string `json:"action,omitempty"`
	Category string `json:"category,omitempty"`
	// Loaded says the list has a copy in use; Origin says where it came
	// from (network, cache, file, builtin) and Updated when its content
	// was read from its source.
	Loaded   bool       `json:"loaded"`
	Origin   string     `json:"origin,omitempty"`
	Updated  *time.Time `json:"updated,omitempty"`
	Entries  int        `json:"entries"`
	Rejected int        `json:"rejected"`
	Skipped  int        `json:"skipped"`
	// LastSuccess is when the source last confirmed the copy (a download,
	// a 304, an unchanged file); LastAttempt the last refresh attempt.
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// handleLists is GET /lists.
func (d *daemon) handleLists(w http.ResponseWriter, r *http.Request) {
	g := d.cur.Load()
	if g == nil {
		http.Error(w, "starting: no configuration is served yet", http.StatusServiceUnavailable)
		return
	}
	type conf struct{ action, category string }
	confs := map[string]conf{}
	for _, l := range g.cfg.Blocklists {
		a := l.Action
		if a == "" {
			a = "nxdomain"
		}
		confs[l.Name] = conf{a, l.Category}
	}
	for _, l := range g.cfg.Allowlists {
		confs[l.Name] = conf{"", l.Category}
	}
	out := []listStatus{}
	for _, rep := range g.lists.Reports() {
		c := confs[rep.List]
		if c.category == "" {
			c.category = rep.List
		}
		st := listStatus{
			Name: rep.List, Kind: "block", Source: rep.Source, Format: rep.Format, Action: c.action, Category: c.category,
			Loaded: rep.Format != "", Origin: rep.Origin, Updated: timePtr(rep.Updated), Entries: rep.Entries,
			Rejected: rep.RejectedTotal(), Skipped: rep.Skipped,
			LastSuccess: timePtr(rep.LastSuccess), LastAttempt: timePtr(rep.LastAttempt), LastError: rep.LastError,
		}
		if rep.Allow {
			st.Kind = "allow"
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": out})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
