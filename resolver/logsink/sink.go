package logsink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"time"
)

// Sink delivers one log's records to one destination. Write hands it the
// log's JSON lines and never blocks; one goroutine formats and sends them.
type Sink struct {
	cfg    Config
	logger *slog.Logger
	m      *sinkMetrics
	forget func()

	ch   chan []byte
	quit chan struct{} // closed by Close: drain, then stop
	// stop is cancelled once draining is over: blocked dials, writes and
	// requests give up, and what is left is counted as dropped.
	stop context.Context
	kill context.CancelFunc
	done chan struct{}
	once sync.Once

	now func() time.Time
	tm  timings
}

// timings are the sink's waits; tests shorten them.
type timings struct {
	// closeGrace is how long Close lets queued records go out.
	closeGrace time.Duration
	// backoffMin and backoffMax bound the wait between attempts.
	backoffMin, backoffMax time.Duration
	dial, write            time.Duration
}

var defaultTimings = timings{closeGrace: 2 * time.Second, backoffMin: 100 * time.Millisecond,
	backoffMax: 30 * time.Second, dial: 5 * time.Second, write: 10 * time.Second}

// New starts a sink for cfg, which must have passed SetDefaults and
// Validate. It does not wait for the destination: a SIEM that is down at
// start is retried in the background while records queue.
func New(cfg Config, m *Metrics, logger *slog.Logger) (*Sink, error) {
	return newSink(cfg, m, logger, defaultTimings)
}

func newSink(cfg Config, m *Metrics, logger *slog.Logger, tm timings) (*Sink, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	addr, err := cfg.address()
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, logger: logger.With("sink", cfg.Name), m: m.forSink(cfg.Name),
		forget: func() { m.forget(cfg.Name) },
		ch:     make(chan []byte, cfg.Queue), quit: make(chan struct{}), done: make(chan struct{}), now: time.Now, tm: tm}
	s.stop, s.kill = context.WithCancel(context.Background())
	var run func()
	switch cfg.kind() {
	case kindSyslogUDP:
		run = func() { s.runDatagram(addr) }
	case kindSyslogTCP, kindSyslogTLS:
		var tc *tls.Config
		if cfg.kind() == kindSyslogTLS {
			if tc, err = cfg.TLS.client(addr); err != nil {
				return nil, err
			}
		}
		run = func() { s.runStream(addr, tc) }
	default:
		h, err := newHTTPSender(&s.cfg, addr)
		if err != nil {
			return nil, err
		}
		run = func() { s.runHTTP(h) }
	}
	go func() {
		defer close(s.done)
		run()
	}()
	return s, nil
}

// Name is the sink's metric label.
func (s *Sink) Name() string { return s.cfg.Name }

// Config is the configuration the sink was built from, so a reload can
// keep a sink whose configuration did not change.
func (s *Sink) Config() Config { return s.cfg }

// Write queues each line of p (whole JSON lines, as the logs write them).
// It never blocks and never fails: a line that does not fit in the queue is
// dropped and counted, so the log writer, and the queries behind it, never
// wait on a destination.
func (s *Sink) Write(p []byte) (int, error) {
	select {
	case <-s.quit:
		n := 0
		lines(p, func([]byte) { n++ })
		s.m.closed.Add(float64(n))
		return len(p), nil
	default:
	}
	lines(p, func(line []byte) {
		select {
		case s.ch <- append([]byte(nil), line...):
		default:
			s.m.queueFull.Inc()
		}
	})
	s.m.queued.Set(float64(len(s.ch)))
	return len(p), nil
}

// Close sends what is queued within a short grace period, then stops; what
// is still queued then is dropped and counted. The sink's series are
// removed only by Forget, since a reload may hand the name to a new sink.
func (s *Sink) Close() error {
	s.once.Do(func() {
		close(s.quit)
		t := time.AfterFunc(s.tm.closeGrace, s.kill)
		<-s.done
		t.Stop()
		s.kill()
	})
	return nil
}

// Forget removes the sink's series; for a sink that a reload removed.
func (s *Sink) Forget() { s.forget() }

// next returns the next queued line, waiting for one. After Close it
// returns what is still queued and then ok false.
func (s *Sink) next() (line []byte, ok bool) {
	select {
	case line = <-s.ch:
		return line, true
	default:
	}
	select {
	case line = <-s.ch:
		return line, true
	case <-s.quit:
		select {
		case line = <-s.ch:
			return line, true
		default:
			return nil, false
		}
	}
}

// pending returns a queued line without waiting.
func (s *Sink) pending() ([]byte, bool) {
	select {
	case line := <-s.ch:
		return line, true
	default:
		return nil, false
	}
}

// dropRest counts what is still queued when the sink stops.
func (s *Sink) dropRest(extra int) {
	n := extra
	for {
		select {
		case <-s.ch:
			n++
		default:
			s.m.closed.Add(float64(n))
			s.m.queued.Set(0)
			return
		}
	}
}

// wait sleeps d, or less if the sink is being stopped; false means stop.
func (s *Sink) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop.Done():
		return false
	}
}

// backoff is an exponential wait with jitter between attempts, so that a
// fleet of resolvers does not reconnect to a restarted SIEM in step.
type backoff struct{ d, min, max time.Duration }

func (s *Sink) backoff() *backoff { return &backoff{min: s.tm.backoffMin, max: s.tm.backoffMax} }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = b.min
	} else if b.d *= 2; b.d > b.max {
		b.d = b.max
	}
	return b.d/2 + rand.N(b.d/2+1)
}

func (b *backoff) reset() { b.d = 0 }

// client returns the TLS client configuration for addr.
func (c *TLSConfig) client(addr string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if tc.ServerName == "" {
		u, _ := url.Parse("x://" + addr)
		tc.ServerName = u.Hostname()
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
