// Package dnstap sends every client query and answer to a dnstap collector
// (https://dnstap.info), the logging format Unbound, BIND, Knot and CoreDNS
// speak, so Bulwark plugs into the same capture and analysis tools
// (fstrm_capture, dnstap-read, dnscollector, ...).
//
// It is a resolver.Observer: the query path copies the wire messages into a
// bounded queue and moves on; one goroutine encodes the protobuf frames and
// writes them over a Frame Streams session (github.com/dnstap/golang-dnstap),
// reconnecting with backoff when the collector goes away. When the queue is
// full or the collector is down, frames are dropped and counted
// (bulwark_dnstap_dropped_total): dnstap never slows down an answer.
package dnstap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/privacy"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	dnstappb "github.com/dnstap/golang-dnstap"
)

// Tap is the dnstap output.
type Tap struct {
	network, addr      string
	identity, version  []byte
	queries, responses bool
	timeout            time.Duration
	// Reconnect backoff: the first retry after minRetry, doubling up to
	// maxRetry while the collector stays away.
	minRetry, maxRetry time.Duration

	ch      chan item
	quit    chan struct{} // closed by Close; ch is never closed, so a late Observe cannot panic
	done    chan struct{}
	stop    context.CancelFunc // aborts a dial in progress on Close
	ctx     context.Context
	once    sync.Once
	bufs    sync.Pool // *[]byte holding an item's copied wire messages
	metrics *Metrics
	logger  *slog.Logger
	clients atomic.Pointer[privacy.Set] // nil: full addresses
}

// SetClients sets how query addresses are written (dnstap.client or
// log.client, tenants' log.client), from the next frame on; a reload calls
// it without reconnecting. nil writes them in full.
func (t *Tap) SetClients(s *privacy.Set) { t.clients.Store(s) }

// item is one observed query on its way to the writer.
type item struct {
	received time.Time
	duration time.Duration
	client   netip.AddrPort
	proto    contract.Proto
	tenant   string
	// qname and decision are the policy's, when a rule answered
	// (decision.Table non-nil): the writer renders the Policy message.
	qname    string
	decision contract.Decision
	buf      *[]byte // the query, then the response when there is one
	qlen     int
	answered bool
	frames   int // frames this item becomes: what is counted when it is dropped
}

// maxPooled keeps the occasional huge (TCP) message from pinning its
// buffer in the pool.
const maxPooled = 4096

// New starts the dnstap output for cfg (validated, with a socket).
// version fills in an empty cfg.Version as "bulwark VERSION". Bulwark
// serves whether or not the collector is up: New does not wait for it.
func New(cfg Config, version string, m *Metrics, logger *slog.Logger) (*Tap, error) {
	t, err := newTap(cfg, version, m, logger)
	if err != nil {
		return nil, err
	}
	go t.run()
	return t, nil
}

func newTap(cfg Config, version string, m *Metrics, logger *slog.Logger) (*Tap, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.SetDefaults()
	network, addr, err := parseSocket(cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("dnstap: %w", err)
	}
	identity := cfg.Identity
	if identity == "" {
		identity, _ = os.Hostname()
	}
	if cfg.Version == "" {
		cfg.Version = "bulwark " + version
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tap{
		network: network, addr: addr,
		identity: []byte(identity), version: []byte(cfg.Version),
		queries: cfg.logQueries(), responses: cfg.logResponses(),
		timeout:  cfg.Timeout,
		minRetry: 100 * time.Millisecond, maxRetry: 5 * time.Second,
		ch:   make(chan item, cfg.QueueSize),
		quit: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, stop: cancel,
		metrics: m,
		logger:  logger.With("dnstap", cfg.Socket),
	}
	return t, nil
}

// Observe implements resolver.Observer: it copies the wire messages and
// queues them, or drops and counts them when the queue is full.
func (t *Tap) Observe(ev contract.Event) {
	it := item{received: ev.Received, duration: ev.Duration, client: ev.Client, proto: ev.Proto, tenant: ev.Tenant}
	if ev.Decision.Table != nil {
		it.qname, it.decision = ev.QName, ev.Decision
	}
	if t.queries {
		it.frames++
	}
	if t.responses && ev.Response != nil {
		it.frames++
		it.answered = true
	}
	if it.frames == 0 {
		return
	}
	select {
	case <-t.quit:
		t.metrics.countDropped(it.frames)
		return
	default:
	}
	if len(t.ch) == cap(t.ch) { // full: don't bother copying
		t.metrics.countDropped(it.frames)
		return
	}
	var query []byte // only what is sent is copied
	if t.queries {
		query = ev.Query
	}
	size := len(query)
	if it.answered {
		size += len(ev.Response)
	}
	bp, _ := t.bufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < size {
		b := make([]byte, 0, max(size, 512))
		bp = &b
	}
	b := append((*bp)[:0], query...)
	if it.answered {
		b = append(b, ev.Response...)
	}
	*bp = b
	it.buf, it.qlen = bp, len(query)
	select {
	case t.ch <- it:
	default:
		t.putBuf(bp)
		t.metrics.countDropped(it.frames)
	}
}

func (t *Tap) putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		t.bufs.Put(bp)
	}
}

// Close sends what is queued (if the collector is connected), ends the
// Frame Streams session and closes the connection. It returns within about
// Timeout even when the collector has stopped reading.
func (t *Tap) Close() {
	t.once.Do(func() {
		close(t.quit)
		t.stop()
	})
	<-t.done
}

// flushEvery bounds the frames written between two flushes.
const flushEvery = 256

// conn is one Frame Streams session with the collector.
type conn struct {
	c       net.Conn
	w       dnstappb.Writer
	pending int // frames written since the last successful flush
}

func (t *Tap) run() {
	defer close(t.done)
	var (
		s        *conn
		enc      encoder
		nextDial time.Time
		backoff  = t.minRetry
		failing  bool
		it       item // reused: a fresh one per item would escape to the heap
	)
	enc.init(t.identity, t.version)
	connect := func() {
		if time.Now().Before(nextDial) {
			return
		}
		var err error
		if s, err = t.dial(); err != nil {
			s = nil
			nextDial = time.Now().Add(backoff)
			if !failing {
				t.logger.Warn("dnstap collector unreachable; frames are dropped until it is back", "err", err)
				failing = true
			} else {
				t.logger.Debug("dnstap reconnect failed", "err", err, "retry_in", backoff)
			}
			backoff = min(2*backoff, t.maxRetry)
			return
		}
		backoff = t.minRetry
		failing = false
		t.metrics.setConnected(true)
		t.logger.Info("dnstap collector connected")
	}
	broken := func(err error) {
		t.metrics.countDropped(s.pending)
		s.c.Close()
		s = nil
		t.metrics.setConnected(false)
		nextDial = time.Now() // retry on the next frame
		t.logger.Warn("dnstap collector connection lost", "err", err)
		failing = true
	}
	send := func(it *item) {
		defer t.putBuf(it.buf)
		if s == nil {
			connect()
			if s == nil {
				t.metrics.countDropped(it.frames)
				return
			}
		}
		frames := enc.frames(t, it)
		t.metrics.countDropped(it.frames - len(frames))
		for i, frame := range frames {
			s.pending++
			if _, err := s.w.WriteFrame(frame); err != nil {
				t.metrics.countDropped(len(frames) - i - 1)
				broken(err) // counts this frame with the other unflushed ones
				return
			}
		}
	}
	flush := func() {
		if s == nil || s.pending == 0 {
			return
		}
		if err := s.w.(flusher).Flush(); err != nil {
			broken(err)
			return
		}
		t.metrics.countSent(s.pending)
		s.pending = 0
	}

	connect() // at once, so the operator learns at startup whether the collector is there
	for {
		select {
		case it = <-t.ch:
			send(&it)
			// Flush when the queue runs empty (prompt at low rates) or
			// every flushEvery frames (so that under sustained load the
			// sent counter moves and a dead connection is found soon).
			if len(t.ch) == 0 || (s != nil && s.pending >= flushEvery) {
				flush()
			}
		case <-t.quit:
			for {
				select {
				case it = <-t.ch:
					if s == nil { // no reconnecting on the way out
						t.putBuf(it.buf)
						t.metrics.countDropped(it.frames)
						continue
					}
					send(&it)
				default:
					flush()
					if s != nil {
						// STOP, and wait (Timeout at most) for the
						// collector's FINISH.
						_ = s.w.Close()
						s.c.Close()
						t.metrics.setConnected(false)
					}
					return
				}
			}
		}
	}
}

// flusher is the part of the Frame Streams writer dnstappb.Writer hides:
// frames are buffered, and flushed when the queue runs empty.
type flusher interface{ Flush() error }

// dial connects to the collector and runs the bidirectional Frame Streams
// handshake (READY/ACCEPT/START) for the dnstap content type, with the
// library's Frame Streams writer. Reconnecting is done here rather than
// with the library's FrameStreamSockOutput, whose WriteFrame retries
// forever with no way to cancel it: Close would hang for as long as the
// collector is down, and frames could not be counted as dropped.
func (t *Tap) dial() (*conn, error) {
	d := net.Dialer{Timeout: t.timeout}
	c, err := d.DialContext(t.ctx, t.network, t.addr)
	if err != nil {
		return nil, err
	}
	w, err := dnstappb.NewWriter(c, &dnstappb.WriterOptions{Bidirectional: true, Timeout: t.timeout})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("frame streams handshake: %w", err)
	}
	if _, ok := w.(flusher); !ok {
		c.Close()
		return nil, errors.New("dnstap writer cannot flush") // a library change; the tests catch it
	}
	return &conn{c: c, w: w}, nil
}
