package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/internal/gopool"
	"github.com/bulwark-dns/bulwark/resolver/cache"
	"github.com/bulwark-dns/bulwark/resolver/pipeline"
	"github.com/bulwark-dns/bulwark/resolver/proxyproto"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// Server runs the DNS listeners — UDP and TCP on every `dns` address, DoT
// on every `tls` address, DoH on every `https` address — in front of one
// chain of Resolvers. Reload replaces the chain and the listen settings
// while serving, keeping the sockets of addresses that stay.
type Server struct {
	h       *handler
	logger  *slog.Logger
	metrics listenerMetrics
	certs   atomic.Pointer[certStore] // nil without TLS listeners

	// ctx is cancelled by Shutdown's deadline to abandon in-flight queries.
	ctx    context.Context
	cancel context.CancelFunc

	// reloadMu serialises Listen, Reload, SetFastPath and Shutdown.
	reloadMu sync.Mutex

	mu       sync.Mutex
	sockets  []*socket            // serving, in config order
	conns    map[net.Conn]*socket // open stream connections and their socket
	closing  atomic.Bool          // Shutdown has begun
	open     atomic.Int64         // stream connections open (TCP, DoT, DoH)
	clients  clientConns          // the same, per client
	busy     atomic.Int64         // queries being answered (max_inflight)
	inflight sync.WaitGroup       // queries being answered
	// workers answer the UDP queries the fast path does not, on goroutines
	// kept between queries (their stacks already grown).
	workers   *gopool.Pool
	listeners sync.WaitGroup // read and accept loops, stream connections, retiring sockets
}

// NewServer returns a server for cfg answering with p. cfg must be
// validated; with TLS or HTTPS listeners the certificate is loaded here.
func NewServer(cfg ListenConfig, p *pipeline.Pipeline, m *pipeline.Metrics, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	// Cancelled only to abandon every query at once: a cache miss under it
	// asks on its own goroutine (cache.Abandons).
	ctx = cache.Abandons(ctx)
	s := &Server{
		h:       &handler{},
		logger:  logger,
		metrics: listenerMetrics{m},
		ctx:     ctx,
		cancel:  cancel,
		conns:   map[net.Conn]*socket{},
		workers: gopool.New(0),
	}
	proxy, err := proxyproto.New(cfg.ProxyProtocol, m.ProxyMetrics(), logger)
	if err != nil {
		cancel()
		return nil, err
	}
	s.h.cur.Store(&generation{cfg: cfg, pipe: p, proxy: proxy})
	if len(cfg.TLS)+len(cfg.HTTPS) > 0 {
		certs, err := newCertStore(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			cancel()
			return nil, err
		}
		s.certs.Store(certs)
	}
	return s, nil
}

// settings returns the listen settings in force.
func (s *Server) settings() *ListenConfig { return &s.h.cur.Load().cfg }

// SetFastPath lets UDP queries that the fast path can answer skip the
// chain; a nil fp turns the fast path off. It is safe while serving.
func (s *Server) SetFastPath(fp *pipeline.FastPath) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	g := *s.h.cur.Load()
	g.pipe = g.pipe.WithFastPath(fp)
	s.h.cur.Store(&g)
}

// ReloadCertificate re-reads the TLS certificate and key; on error the
// current certificate keeps serving.
func (s *Server) ReloadCertificate() error {
	if c := s.certs.Load(); c != nil {
		return c.reload()
	}
	return nil
}

// Listen opens every configured address and starts serving. If any address
// fails, everything opened so far is closed again.
func (s *Server) Listen() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg := s.settings()
	var opened []*socket
	for _, w := range wanted(cfg) {
		so, err := s.openSocket(w.kind, w.addr)
		if err != nil {
			closeSockets(opened)
			return err
		}
		opened = append(opened, so)
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		closeSockets(opened)
		return errors.New("server is shut down")
	}
	s.sockets = opened
	s.mu.Unlock()
	for _, so := range opened {
		s.startSocket(so)
	}
	return nil
}

// Reload makes the server answer with the pipeline p under cfg (validated)
// from the next query on: the generation {cfg, p} is swapped in whole. Sockets whose address and kind (dns, tls, https) are in
// both configurations keep serving without a pause; new addresses are
// opened before anything changes, so that a failure (an address in use, a
// certificate that does not load) returns an error with the server exactly
// as it was; removed addresses stop reading, answer what they already
// read, and close. A certificate is loaded anew from cert_file and
// key_file.
func (s *Server) Reload(cfg ListenConfig, p *pipeline.Pipeline) error {
	cfg.SetDefaults()
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.closing.Load() {
		return errors.New("server is shutting down")
	}
	proxy, err := proxyproto.New(cfg.ProxyProtocol, s.metrics.ProxyMetrics(), s.logger)
	if err != nil {
		return err
	}
	var certs *certStore
	if len(cfg.TLS)+len(cfg.HTTPS) > 0 {
		if certs, err = newCertStore(cfg.CertFile, cfg.KeyFile); err != nil {
			return err
		}
	}
	s.mu.Lock()
	current := slices.Clone(s.sockets)
	s.mu.Unlock()
	byKey := make(map[sockKey]*socket, len(current))
	for _, so := range current {
		byKey[so.sockKey] = so
	}
	var next, opened []*socket
	for _, w := range wanted(&cfg) {
		if so, ok := byKey[w]; ok {
			next = append(next, so)
			delete(byKey, w)
			continue
		}
		// The new sockets are not served before the swap below, but
		// they need the new certificate already.
		so, err := s.openSocketWith(w.kind, w.addr, certs, cfg.UDPRcvbuf)
		if err != nil {
			closeSockets(opened)
			return err
		}
		opened = append(opened, so)
		next = append(next, so)
	}
	var removed []*socket
	for _, so := range current {
		if _, gone := byKey[so.sockKey]; gone {
			removed = append(removed, so)
		}
	}

	// The swap: from here on nothing fails.
	old := s.h.cur.Load()
	s.certs.Store(certs)
	s.h.cur.Store(&generation{cfg: cfg, pipe: p, proxy: proxy})
	s.mu.Lock()
	s.sockets = next
	s.mu.Unlock()
	for _, so := range opened {
		s.startSocket(so)
	}
	if old.cfg.UDPRcvbuf != cfg.UDPRcvbuf {
		for _, so := range next {
			if so.udp != nil && !slices.Contains(opened, so) {
				s.metrics.udpStats().Resize(so.udp, cfg.UDPRcvbuf, s.logger)
			}
		}
	}
	if old.cfg.TCPReadTimeout != cfg.TCPReadTimeout || old.cfg.TCPIdleTimeout != cfg.TCPIdleTimeout {
		for _, so := range next {
			if so.doh != nil && !slices.Contains(opened, so) {
				so.doh.restart(s) // new HTTP timeouts, same socket
			}
		}
	}
	for _, so := range removed {
		s.retire(so)
	}
	return nil
}

// sockKey identifies a listening socket across configurations.
type sockKey struct {
	kind string // "dns", "tls" or "https"
	addr string // netip.AddrPort.String() of the configured address
}

// wanted lists the sockets cfg asks for, in config order.
func wanted(cfg *ListenConfig) []sockKey {
	var out []sockKey
	for _, sec := range []struct {
		kind  string
		addrs []string
	}{{"dns", cfg.DNS}, {"tls", cfg.TLS}, {"https", cfg.HTTPS}} {
		for _, a := range sec.addrs {
			k := sockKey{kind: sec.kind, addr: a}
			if ap, err := netip.ParseAddrPort(a); err == nil {
				k.addr = ap.String()
			}
			out = append(out, k)
		}
	}
	return out
}

// socket is one configured listening address: UDP and TCP for dns, TCP
// with TLS for tls, HTTPS for https.
type socket struct {
	sockKey
	udp   *net.UDPConn // dns only
	raw   net.Listener // the TCP socket
	ln    net.Listener // what the accept loop reads (limits, TLS for DoT)
	proto query.Proto  // of the stream side: TCP, DoT or DoH
	doh   *dohServer   // https only

	stopped atomic.Bool    // retired: stop reading, finish what was read
	readers sync.WaitGroup // UDP read loops
	answers sync.WaitGroup // UDP answers in flight from this socket
	replies answerQueue    // the workers' UDP answers, sent a burst at a time
}

func (s *Server) openSocket(kind, addr string) (*socket, error) {
	return s.openSocketWith(kind, addr, s.certs.Load(), s.settings().UDPRcvbuf)
}

// openSocketWith opens one socket; certs serves TLS on it until the
// server's own certificate store is swapped in by Reload.
func (s *Server) openSocketWith(kind, addr string, certs *certStore, rcvbuf int) (*socket, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", kind, addr, err)
	}
	so := &socket{sockKey: sockKey{kind: kind, addr: ap.String()}}
	so.replies.q.Max = udpBatch // a full sendmmsg batch goes at once
	switch kind {
	case "dns":
		uc, raw, err := s.listenDNS(ap)
		if err != nil {
			return nil, err
		}
		so.udp, so.raw, so.ln, so.proto = uc, raw, s.streamListener(raw), query.ProtoTCP
		s.metrics.udpStats().Track(uc, rcvbuf, s.logger)
	case "tls", "https":
		proto := query.ProtoDoT
		if kind == "https" {
			proto = query.ProtoDoH
		}
		if certs == nil {
			return nil, fmt.Errorf("listen %s %s: no certificate (set listen.cert_file and key_file)", proto, addr)
		}
		raw, err := listenTCP(ap, proto)
		if err != nil {
			return nil, err
		}
		so.raw, so.proto = raw, proto
		if proto == query.ProtoDoT {
			so.ln = tls.NewListener(s.streamListener(raw), s.tlsConfig("dot"))
		} else {
			so.doh = newDoHServer(s.streamListener(raw))
		}
	default:
		return nil, fmt.Errorf("listen %s: unknown kind %q", addr, kind)
	}
	return so, nil
}

// streamListener is what TCP, DoT (under TLS) and DoH (under TLS) accept
// from raw: the connection limit, then the PROXY header of a trusted
// balancer, so that everything above sees the real client as RemoteAddr.
func (s *Server) streamListener(raw net.Listener) net.Listener {
	return proxyproto.NewListener(limitListener{Listener: raw, s: s}, func() *proxyproto.Policy { return s.h.cur.Load().proxy })
}

// startSocket starts the loops serving so.
func (s *Server) startSocket(so *socket) {
	if so.udp != nil {
		// One reader per core keeps the socket drained; answers are
		// computed in their own goroutines.
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			s.listeners.Add(1)
			so.readers.Add(1)
			go s.serveUDP(so)
		}
		s.logger.Info("serving DNS", "proto", "udp", "addr", so.udp.LocalAddr().String())
	}
	if so.doh != nil {
		so.doh.start(s)
	} else {
		s.listeners.Add(1)
		go s.serveStream(so)
	}
	s.logger.Info("serving DNS", "proto", so.proto.String(), "addr", so.raw.Addr().String())
}

// retire stops serving a socket a reload removed: it stops reading at
// once, lets the queries already read be answered, then closes.
func (s *Server) retire(so *socket) {
	so.stopped.Store(true)
	s.logger.Info("listener removed", "kind", so.kind, "addr", so.addr)
	s.stopSocket(so)
	if so.udp == nil {
		return
	}
	s.listeners.Add(1)
	go func() {
		defer s.listeners.Done()
		so.readers.Wait()
		so.answers.Wait()
		so.udp.Close()
	}()
}

// stopSocket stops taking new queries on so but keeps its UDP socket open,
// so that answers to queries already in flight can still be sent.
func (s *Server) stopSocket(so *socket) {
	now := time.Now()
	if so.udp != nil {
		_ = so.udp.SetReadDeadline(now)
	}
	if so.doh != nil {
		so.doh.stop(s)
	} else {
		so.raw.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, cs := range s.conns {
		if cs == so {
			_ = c.SetReadDeadline(now)
		}
	}
}

// closeSockets closes sockets that were never started.
func closeSockets(sockets []*socket) {
	for _, so := range sockets {
		so.close()
	}
}

func (so *socket) close() {
	if so.udp != nil {
		so.udp.Close()
	}
	so.raw.Close()
}

// done reports whether so's loops should end: Shutdown, or a reload
// removed the socket.
func (s *Server) done(so *socket) bool { return s.closing.Load() || so.stopped.Load() }

// listenDNS opens UDP and TCP on ap. With port 0 (tests) the kernel picks
// the UDP port, which may already be taken for TCP: then it tries again.
func (s *Server) listenDNS(ap netip.AddrPort) (*net.UDPConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		uc, err := net.ListenUDP(network("udp", ap), net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", ap, err)
		}
		bound := netip.AddrPortFrom(ap.Addr(), uint16(uc.LocalAddr().(*net.UDPAddr).Port))
		tl, err := listenTCP(bound, query.ProtoTCP)
		if err == nil {
			return uc, tl, nil
		}
		uc.Close()
		if ap.Port() != 0 || attempt == 10 {
			return nil, nil, err
		}
	}
}

// listenTCP opens a TCP socket.
func listenTCP(ap netip.AddrPort, proto query.Proto) (net.Listener, error) {
	ln, err := net.Listen(network("tcp", ap), ap.String())
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", proto, ap, err)
	}
	return ln, nil
}

// network picks "udp4"/"udp6" (or tcp) by the address family, so that
// "[::]:53" is IPv6 only (IPV6_V6ONLY) and can sit beside "0.0.0.0:53", as
// operators listing both expect.
func network(base string, ap netip.AddrPort) string {
	if ap.Addr().Is4() || ap.Addr().Is4In6() {
		return base + "4"
	}
	return base + "6"
}

// getCertificate serves the certificate of the store in force, so that a
// reload's new certificate reaches sockets opened before it.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := s.certs.Load()
	if c == nil {
		return nil, errors.New("no certificate configured")
	}
	return c.getCertificate(hello)
}

// tlsConfig is the server side TLS config; nextProtos selects "dot" or
// "h2"/"http/1.1" in ALPN.
func (s *Server) tlsConfig(nextProtos ...string) *tls.Config {
	return &tls.Config{
		GetCertificate: s.getCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     nextProtos,
	}
}

// Addrs returns the bound UDP addresses (TCP uses the same ones), so tests
// that listen on port 0 can find the server.
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.AddrPort
	for _, so := range s.sockets {
		if so.udp != nil {
			out = append(out, so.udp.LocalAddr().(*net.UDPAddr).AddrPort())
		}
	}
	return out
}

// StreamAddrs returns the bound TCP, DoT and DoH addresses by protocol.
func (s *Server) StreamAddrs() map[query.Proto][]netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[query.Proto][]netip.AddrPort{}
	for _, so := range s.sockets {
		out[so.proto] = append(out[so.proto], so.raw.Addr().(*net.TCPAddr).AddrPort())
	}
	return out
}

// Shutdown stops accepting queries, waits for those in flight to be
// answered, and returns when they are or when ctx ends (then in-flight
// queries are abandoned).
func (s *Server) Shutdown(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.stopReading()
	done := make(chan struct{})
	go func() {
		s.listeners.Wait()
		s.inflight.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel() // abandon upstream waits
		s.closeConns()
		<-done
	}
	s.cancel()
	s.closeListeners()
	s.workers.Close()
	return err
}

// stopReading stops taking new queries on every socket.
func (s *Server) stopReading() {
	s.mu.Lock()
	s.closing.Store(true)
	sockets := slices.Clone(s.sockets)
	s.mu.Unlock()
	for _, so := range sockets {
		s.stopSocket(so)
	}
}

func (s *Server) closeListeners() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, so := range s.sockets {
		so.close()
		if so.doh != nil {
			so.doh.close()
		}
	}
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// acquire reserves an in-flight slot without waiting; past max_inflight
// the query is dropped and counted.
func (s *Server) acquire() bool {
	if s.busy.Add(1) > int64(s.settings().MaxInflight) {
		s.busy.Add(-1)
		s.metrics.countOverload()
		return false
	}
	s.inflight.Add(1)
	return true
}

func (s *Server) release() {
	s.busy.Add(-1)
	s.inflight.Done()
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
