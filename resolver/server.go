package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Server runs the DNS listeners — UDP and TCP on every `dns` address, DoT
// on every `tls` address, DoH on every `https` address — in front of one
// chain of Resolvers.
type Server struct {
	cfg     ListenConfig
	h       *handler
	logger  *slog.Logger
	metrics *Metrics
	certs   *certStore // nil without TLS listeners
	fast    *FastPath  // nil: every UDP query takes the chain

	// ctx is cancelled by Shutdown's deadline to abandon in-flight queries.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	udp       []*net.UDPConn
	bound     []boundListener // TCP, DoT and DoH sockets, for addresses and closing
	https     []*http.Server
	conns     map[net.Conn]struct{}
	closing   atomic.Bool
	open      atomic.Int64   // stream connections open (TCP, DoT, DoH)
	inflight  sync.WaitGroup // queries being answered
	listeners sync.WaitGroup // read and accept loops, stream connections
	sem       chan struct{}  // bounds queries in flight
}

// NewServer returns a server for cfg answering with chain. cfg must be
// validated; with TLS or HTTPS listeners the certificate is loaded here.
func NewServer(cfg ListenConfig, chain Resolver, m *Metrics, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		h:       &handler{chain: chain, metrics: m, logger: logger, udpSize: cfg.UDPSize},
		logger:  logger,
		metrics: m,
		ctx:     ctx,
		cancel:  cancel,
		conns:   map[net.Conn]struct{}{},
		sem:     make(chan struct{}, cfg.MaxInflight),
	}
	if len(cfg.TLS)+len(cfg.HTTPS) > 0 {
		certs, err := newCertStore(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			cancel()
			return nil, err
		}
		s.certs = certs
	}
	return s, nil
}

// SetFastPath lets UDP queries that the fast path can answer skip the
// chain; call it before Listen. A nil fp turns the fast path off.
func (s *Server) SetFastPath(fp *FastPath) {
	if fp != nil {
		fp.udpSize = s.cfg.UDPSize
	}
	s.fast = fp
}

// ReloadCertificate re-reads the TLS certificate and key (SIGHUP); on error
// the current certificate keeps serving.
func (s *Server) ReloadCertificate() error {
	if s.certs == nil {
		return nil
	}
	return s.certs.reload()
}

// Listen opens every configured address and starts serving. If any address
// fails, everything opened so far is closed again.
func (s *Server) Listen() error {
	if err := s.openAll(); err != nil {
		s.closeListeners()
		return err
	}
	return nil
}

type streamListener struct {
	ln    net.Listener
	proto Proto
}

// boundListener is a raw TCP socket of a stream listener.
type boundListener struct {
	raw   net.Listener
	proto Proto
}

func (s *Server) openAll() error {
	var streams []streamListener
	for _, a := range s.cfg.DNS {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return fmt.Errorf("listen %s: %w", a, err)
		}
		uc, tl, err := s.listenDNS(ap)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.udp = append(s.udp, uc)
		s.mu.Unlock()
		streams = append(streams, streamListener{tl, ProtoTCP})
	}
	for _, a := range s.cfg.TLS {
		tl, err := s.listenTCP(a, ProtoDoT)
		if err != nil {
			return err
		}
		streams = append(streams, streamListener{tls.NewListener(tl, s.certs.tlsConfig("dot")), ProtoDoT})
	}
	for _, a := range s.cfg.HTTPS {
		tl, err := s.listenTCP(a, ProtoDoH)
		if err != nil {
			return err
		}
		s.startHTTPS(tl)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uc := range s.udp {
		// One reader per core keeps the socket drained; answers are
		// computed in their own goroutines.
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			s.listeners.Add(1)
			go s.serveUDP(uc)
		}
		s.logger.Info("serving DNS", "proto", "udp", "addr", uc.LocalAddr().String())
	}
	for _, st := range streams {
		s.listeners.Add(1)
		go s.serveStream(st.ln, st.proto)
		s.logger.Info("serving DNS", "proto", st.proto.String(), "addr", st.ln.Addr().String())
	}
	return nil
}

// listenDNS opens UDP and TCP on ap. With port 0 (tests) the kernel picks
// the UDP port, which may already be taken for TCP: then it tries again.
func (s *Server) listenDNS(ap netip.AddrPort) (*net.UDPConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		uc, err := net.ListenUDP(network("udp", ap), net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", ap, err)
		}
		bound := netip.AddrPortFrom(ap.Addr(), uint16(uc.LocalAddr().(*net.UDPAddr).Port))
		tl, err := s.listenTCP(bound.String(), ProtoTCP)
		if err == nil {
			return uc, tl, nil
		}
		uc.Close()
		if ap.Port() != 0 || attempt == 10 {
			return nil, nil, err
		}
	}
}

// listenTCP opens a TCP listener limited to MaxTCPConns open connections.
// Until open() hands it to a serving loop, closeListeners closes it.
func (s *Server) listenTCP(addr string, proto Proto) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", proto, addr, err)
	}
	ln, err := net.Listen(network("tcp", ap), addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", proto, addr, err)
	}
	s.mu.Lock()
	s.bound = append(s.bound, boundListener{raw: ln, proto: proto})
	s.mu.Unlock()
	return limitListener{Listener: ln, s: s}, nil
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

// Addrs returns the bound UDP addresses (TCP uses the same ones), so tests
// that listen on port 0 can find the server.
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(s.udp))
	for _, uc := range s.udp {
		out = append(out, uc.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return out
}

// StreamAddrs returns the bound TCP, DoT and DoH addresses by protocol.
func (s *Server) StreamAddrs() map[Proto][]netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Proto][]netip.AddrPort{}
	for _, b := range s.bound {
		out[b.proto] = append(out[b.proto], b.raw.Addr().(*net.TCPAddr).AddrPort())
	}
	return out
}

// Shutdown stops accepting queries, waits for those in flight to be
// answered, and returns when they are or when ctx ends (then in-flight
// queries are abandoned).
func (s *Server) Shutdown(ctx context.Context) error {
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
	return err
}

// stopReading stops taking new queries but keeps the sockets open, so that
// answers to queries already in flight can still be sent.
func (s *Server) stopReading() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, uc := range s.udp {
		_ = uc.SetReadDeadline(now)
	}
	for _, b := range s.bound {
		if b.proto != ProtoDoH { // the HTTP server's Shutdown closes its own
			b.raw.Close()
		}
	}
	for c := range s.conns {
		_ = c.SetReadDeadline(now)
	}
	for _, hs := range s.https {
		// Shutdown waits for active DoH requests; run it in the
		// background so the DNS listeners drain at the same time.
		s.listeners.Add(1)
		go func() {
			defer s.listeners.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = hs.Shutdown(ctx)
		}()
	}
}

func (s *Server) closeListeners() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uc := range s.udp {
		uc.Close()
	}
	for _, b := range s.bound {
		b.raw.Close()
	}
	for _, hs := range s.https {
		hs.Close()
	}
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// acquire reserves an in-flight slot without waiting.
func (s *Server) acquire() bool {
	select {
	case s.sem <- struct{}{}:
		s.inflight.Add(1)
		return true
	default:
		s.metrics.countOverload()
		return false
	}
}

func (s *Server) release() {
	<-s.sem
	s.inflight.Done()
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
