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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwark-dns/bulwark/resolver/config"
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

// Bounds of the admin listener: a handful of scrapers and operators use
// it, so a client holding idle connections (or a flood of them) must not
// exhaust descriptors or goroutines.
const (
	adminMaxConns       = 64
	adminIdleTimeout    = 30 * time.Second
	adminReadTimeout    = 30 * time.Second
	adminMaxHeaderBytes = 64 << 10
)

func serveAdmin(addr string, ln net.Listener, d *daemon) *adminServer {
	a := &adminServer{addr: addr, srv: &http.Server{
		Handler:           d.adminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       adminReadTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
	}}
	ln = &connLimit{Listener: ln, slots: make(chan struct{}, adminMaxConns)}
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

// connLimit closes connections past its slots at once, rather than
// queueing them: the excess client learns at once and the accept loop
// keeps moving.
type connLimit struct {
	net.Listener
	slots chan struct{}
}

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, slots: l.slots}, nil
		default:
			c.Close()
		}
	}
}

// limitedConn gives its slot back once, however often it is closed.
type limitedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { <-c.slots })
	return c.Conn.Close()
}

// adminHandler routes the admin API. Every request must name this API in
// its Host header (checkHost); requests that change state must not come
// from another web origin (CSRF) and are authorized by authorizeChange.
func (d *daemon) adminHandler() http.Handler {
	gate := &reloadGate{}
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
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) { d.handleReload(w, r, gate) })
	mux.HandleFunc("GET /debug/pprof/", d.pprofOnly(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/profile", d.pprofOnly(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/trace", d.pprofOnly(pprof.Trace))
	mux.HandleFunc("GET /debug/pprof/symbol", d.pprofOnly(pprof.Symbol))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(adminIndex))
	})
	// A browser sends Sec-Fetch-Site or Origin with a cross-origin POST;
	// curl, Prometheus and scripts send neither and pass.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden: a cross-origin "+r.Method+" (a web page's request) cannot change state", http.StatusForbidden)
	}))
	return d.checkHost(csrf.Handler(mux))
}

// checkHost refuses requests whose Host header names another host than
// this admin API: a DNS-rebinding page reaches 127.0.0.1 under its own
// name, and must not read /lists or /explain, nor POST /reload.
func (d *daemon) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ac config.AdminConfig
		if g := d.cur.Load(); g != nil {
			ac = g.cfg.Admin
		}
		if !ac.AllowsHost(r.Host) {
			http.Error(w, fmt.Sprintf("forbidden: Host %q is not this admin API's (use an IP address or localhost, or list the name in admin.hosts)", r.Host), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminReloadTrigger names POST /reload in logs; its reloads ask an HTTP
// list only if it was not asked within adminRefreshAge.
const (
	adminReloadTrigger = "POST /reload"
	adminRefreshAge    = time.Minute
)

// reloadGate coalesces POST /reload: a request that arrives while a reload
// runs joins the one reload queued behind it (which starts after the
// request, so it sees the request's config file), rather than adding one
// more: however many requests arrive while one runs, one more follows.
type reloadGate struct {
	mu      sync.Mutex
	running bool
	idle    *sync.Cond
	next    *reloadCall // queued behind the running one; joined by later requests
}

type reloadCall struct {
	done chan struct{}
	err  error
	took time.Duration
}

// do runs reload, or waits for a queued run to cover the request; joined
// says the result is another request's reload.
func (g *reloadGate) do(reload func() error) (c *reloadCall, joined bool) {
	g.mu.Lock()
	if g.idle == nil {
		g.idle = sync.NewCond(&g.mu)
	}
	if c := g.next; c != nil {
		g.mu.Unlock()
		<-c.done
		return c, true
	}
	c = &reloadCall{done: make(chan struct{})}
	g.next = c
	for g.running {
		g.idle.Wait()
	}
	g.running, g.next = true, nil
	g.mu.Unlock()
	start := time.Now()
	c.err = reload()
	c.took = time.Since(start)
	g.mu.Lock()
	g.running = false
	g.idle.Broadcast()
	g.mu.Unlock()
	close(c.done)
	return c, false
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
// Concurrent requests share reloads (reloadGate); "coalesced" says this
// one's result is that of a reload another request also waited for.
func (d *daemon) handleReload(w http.ResponseWriter, r *http.Request, gate *reloadGate) {
	if !d.authorizeChange(w, r) {
		return
	}
	c, joined := gate.do(func() error { return d.reload(adminReloadTrigger) })
	err := c.err
	resp := map[string]any{"result": reloadSuccess, "config": d.name, "took_seconds": c.took.Seconds(), "coalesced": joined}
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
