package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Server runs the DNS listeners (UDP and TCP on every configured address)
// in front of a chain of Resolvers.
type Server struct {
	cfg     ListenConfig
	h       *handler
	logger  *slog.Logger
	metrics *Metrics

	// ctx is cancelled by Shutdown's deadline to abandon in-flight queries.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	udp       []*net.UDPConn
	tcp       []*net.TCPListener
	conns     map[*net.TCPConn]struct{}
	closing   atomic.Bool
	inflight  sync.WaitGroup // queries being answered
	listeners sync.WaitGroup // read and accept loops
	sem       chan struct{}  // bounds queries in flight
}

// NewServer returns a server for cfg answering with chain. Call
// cfg.SetDefaults first.
func NewServer(cfg ListenConfig, chain Resolver, m *Metrics, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:     cfg,
		h:       &handler{chain: chain, metrics: m, logger: logger, udpSize: cfg.UDPSize},
		logger:  logger,
		metrics: m,
		ctx:     ctx,
		cancel:  cancel,
		conns:   map[*net.TCPConn]struct{}{},
		sem:     make(chan struct{}, cfg.MaxInflight),
	}
}

// Listen opens every configured address (UDP and TCP) and starts serving.
// If any address fails, everything opened so far is closed again.
func (s *Server) Listen() error {
	for _, a := range s.cfg.DNS {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen %s: %w", a, err)
		}
		uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen udp %s: %w", a, err)
		}
		// Port 0 (tests): TCP takes the port UDP got.
		ap = netip.AddrPortFrom(ap.Addr(), uint16(uc.LocalAddr().(*net.UDPAddr).Port))
		tl, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
		if err != nil {
			uc.Close()
			s.closeListeners()
			return fmt.Errorf("listen tcp %s: %w", a, err)
		}
		s.mu.Lock()
		s.udp = append(s.udp, uc)
		s.tcp = append(s.tcp, tl)
		s.mu.Unlock()
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
	for _, tl := range s.tcp {
		s.listeners.Add(1)
		go s.serveTCP(tl)
		s.logger.Info("serving DNS", "proto", "tcp", "addr", tl.Addr().String())
	}
	return nil
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
	for _, tl := range s.tcp {
		tl.Close()
	}
	for c := range s.conns {
		_ = c.SetReadDeadline(now)
	}
}

func (s *Server) closeListeners() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uc := range s.udp {
		uc.Close()
	}
	for _, tl := range s.tcp {
		tl.Close()
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
