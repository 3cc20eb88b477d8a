// Package upstream forwards queries to the configured upstream servers: the
// last step of the request path. It speaks plain DNS (UDP with TCP
// fallback, or TCP), DNS over TLS and DNS over HTTPS; picks servers by a
// strategy (failover, weighted random, fastest, parallel race) and takes
// dead ones out of rotation (a circuit breaker with probes); routes
// conditional domains to their own servers; guards against off-path
// spoofing (random IDs and source ports, strict reply matching); and keeps
// the client's EDNS to itself, Client Subnet included unless configured.
package upstream

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/errlist"
	"github.com/bulwark-dns/bulwark/internal/udpsock"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// maxPasses bounds how often the server list is walked again for servers
// that timed out, so a tiny try_timeout cannot turn one client query into a
// burst of upstream packets.
const maxPasses = 3

// Forwarder is a resolver.Resolver that forwards to upstream servers. Its
// configuration is fixed at New; it is safe for concurrent use. Close it
// to release connections and background probes.
type Forwarder struct {
	def        *group
	zones      map[string]*group // conditional domain (canonical, FQDN) -> its servers
	servers    []*server         // every distinct server, once
	timeout    time.Duration
	tryTimeout time.Duration
	failures   int
	cooldown   time.Duration
	ecs        ecsPolicy
	clock      clock.Clock
	log        *slog.Logger
	bufs       sync.Pool // *buffers
	// replies is where every UDP exchange waits for its reply; its
	// reaper exits on its own once none has waited for a while.
	replies udpsock.Poll

	ctx    context.Context // cancelled by Close: probes, dials
	cancel context.CancelFunc
	bgMu   sync.Mutex
	closed bool
	wg     sync.WaitGroup // background probes
}

var _ contract.AnswerResolver = (*Forwarder)(nil)

// Option adjusts a Forwarder at New.
type Option func(*Forwarder)

// WithClock sets the clock the circuit breaker's cool-down and the
// bootstrap cache read (default: the wall clock), so tests move time
// rather than sleep.
func WithClock(c clock.Clock) Option { return func(f *Forwarder) { f.clock = c } }

// New builds a Forwarder from cfg (defaults applied). m and logger may be
// nil. It opens no connection: those are made by the first queries.
func New(cfg Config, m *Metrics, logger *slog.Logger, opts ...Option) (*Forwarder, error) {
	cfg.SetDefaults()
	if errs := cfg.Validate("upstream"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	roots, err := rootPool(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{
		timeout:    cfg.Timeout,
		tryTimeout: cfg.TryTimeout,
		failures:   cfg.Health.Failures,
		cooldown:   cfg.Health.Cooldown,
		ecs:        newECSPolicy(cfg.ECS),
		clock:      clock.Real{},
		log:        logger,
		bufs:       sync.Pool{New: func() any { return new(buffers) }},
	}
	for _, o := range opts {
		o(f)
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())

	b := builder{f: f, m: m, roots: roots, get: cfg.DoHMethod == MethodGET, byEP: map[endpoint]*server{}}
	if len(cfg.Bootstrap) > 0 {
		bs := &bootstrap{f: f, cache: map[string]bootEntry{}}
		bs.group = newGroup(b.servers(cfg.Bootstrap), StrategyFailover, nil)
		b.lookup = bs.lookup
	}
	f.def = newGroup(b.servers(cfg.Servers), cfg.Strategy, cfg.Weights)
	for _, c := range cfg.Conditional {
		g := newGroup(b.servers(c.Servers), c.Strategy, c.Weights)
		for _, d := range c.Domains {
			name, _ := canonicalDomain(d) // validated above
			if f.zones == nil {
				f.zones = make(map[string]*group)
			}
			f.zones[name] = g
		}
	}
	return f, nil
}

// builder creates each distinct server once, however many lists name it,
// so they share health, connections and metrics.
type builder struct {
	f      *Forwarder
	m      *Metrics
	roots  *x509.CertPool
	get    bool
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	byEP   map[endpoint]*server
}

func (b *builder) servers(names []string) []*server {
	out := make([]*server, 0, len(names))
	for _, name := range names {
		ep, _ := parseServer(name) // validated
		s, ok := b.byEP[ep]
		if !ok {
			s = b.newServer(name, ep)
			b.byEP[ep] = s
			b.f.servers = append(b.f.servers, s)
		}
		out = append(out, s)
	}
	return out
}

func (b *builder) newServer(name string, ep endpoint) *server {
	s := &server{name: name, ep: ep, m: b.m.forServer(name)}
	if ep.needsBootstrap() {
		s.lookup = b.lookup
	}
	switch ep.transport {
	case transUDP:
		s.replies = &b.f.replies
		s.tcp = ep.addrPort().String()
	case transTCP:
		s.stream = newStreamPool(b.f.ctx, s.dialStream(nil))
	case transTLS:
		s.stream = newStreamPool(b.f.ctx, s.dialStream(tlsConfig(ep, b.roots)))
	case transHTTPS:
		s.doh = newDoH(s, tlsConfig(ep, b.roots), b.get)
	}
	return s
}

// Close stops background probes and closes every upstream connection.
// Queries after Close fail on connection-based transports.
func (f *Forwarder) Close() error {
	f.bgMu.Lock()
	if f.closed {
		f.bgMu.Unlock()
		return nil
	}
	f.closed = true
	f.bgMu.Unlock()
	f.cancel()
	f.wg.Wait()
	for _, s := range f.servers {
		s.close()
	}
	return nil
}

// background runs fn in a goroutine Close waits for; false once closed.
func (f *Forwarder) background(fn func()) bool {
	f.bgMu.Lock()
	defer f.bgMu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
	return true
}

// Resolve forwards req's question to the servers its name routes to and
// returns the first final answer (NOERROR, NXDOMAIN), without an OPT
// record, or an error naming why each upstream tried failed. It gives up
// at ctx's deadline or the configured timeout, whichever comes first, and
// at once when ctx is cancelled.
func (f *Forwarder) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	a, err := f.ResolveAnswer(ctx, req)
	if err != nil {
		return nil, err
	}
	return f.decode(a.Wire, req.Question)
}

// ResolveAnswer is Resolve with the answer in wire form: the upstream's
// reply as received, matched to the question and without its OPT record
// (relay), for the cache to store as it is and decode once.
func (f *Forwarder) ResolveAnswer(ctx context.Context, req *contract.Request) (contract.Answer, error) {
	rd, cd := true, false
	if req.Msg != nil {
		rd, cd = req.Msg.RecursionDesired, req.Msg.CheckingDisabled
	}
	wire, err := f.forward(ctx, f.route(req.Question.Name), req.Question, rd, cd, req.DO, f.ecs.subnet(req))
	return contract.Answer{Wire: wire}, err
}

// query is an internal lookup (bootstrap): RD, no DO, no ECS.
func (f *Forwarder) query(ctx context.Context, g *group, q dns.Question) (*dns.Msg, error) {
	wire, err := f.forward(ctx, g, q, true, false, false, netip.Prefix{})
	if err != nil {
		return nil, err
	}
	return f.decode(wire, q)
}

// decode unpacks a relayed reply, for callers that want the message.
// relay checked its shape, not every record's data: a reply that does
// not decode fails the query (SERVFAIL), naming the question.
func (f *Forwarder) decode(wire []byte, q dns.Question) (*dns.Msg, error) {
	msg := new(dns.Msg)
	if err := msg.Unpack(wire); err != nil {
		return nil, fmt.Errorf("upstream: the reply for %q does not decode: %w", q.Name, err)
	}
	return msg, nil
}

// forward asks g's servers, in the strategy's order, within the budget,
// and returns the first final reply as relay gives it.
func (f *Forwarder) forward(ctx context.Context, g *group, question dns.Question, rd, cd, do bool, ecs netip.Prefix) ([]byte, error) {
	start := time.Now()
	deadline := start.Add(f.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if len(g.servers) == 0 {
		return nil, fmt.Errorf("upstream: no servers to forward %q to (recursive mode forwards only conditional domains)", question.Name)
	}
	b := f.bufs.Get().(*buffers)
	defer f.bufs.Put(b)
	q, err := packQuery(b.query[:], question, rd, cd, do, ecs)
	if err != nil {
		return nil, fmt.Errorf("upstream: cannot forward %q: %w", question.Name, err)
	}
	order := f.order(g, b.order[:0])
	defer func() { b.order = order[:0] }()

	var fails *failures // allocated on the first failure only
	first := 0
	if g.strategy == parallel && len(order) >= 2 && ctx.Err() == nil {
		fails = newFailures(len(order))
		if msg := f.race(ctx, order[0], order[1], &q, deadline, fails); msg != nil {
			return msg, nil
		}
		first = 2
	}
	for pass := range maxPasses {
		for i, s := range order {
			if pass == 0 && i < first || pass > 0 && !fails.retryable(i) {
				continue
			}
			if ctx.Err() != nil || !time.Now().Before(deadline) {
				return nil, fails.error(ctx, start, deadline)
			}
			msg, res, err := f.attempt(ctx, s, &q, b, deadline, false)
			if res == resSuccess {
				return msg, nil
			}
			if fails == nil {
				fails = newFailures(len(order))
			}
			fails.set(i, res, err)
			f.log.LogAttrs(ctx, slog.LevelDebug, "upstream try failed",
				slog.String("upstream", s.name), slog.String("result", res.String()), slog.Any("error", err))
		}
		if !fails.anyRetryable() {
			break
		}
	}
	return nil, fails.error(ctx, start, deadline)
}

// attempt asks s once over its transport, and for plain UDP once more
// over TCP if the reply was truncated; each exchange gets the try timeout
// within deadline. Probes are not recorded as client requests.
func (f *Forwarder) attempt(ctx context.Context, s *server, q *query, b *buffers, deadline time.Time, probe bool) ([]byte, result, error) {
	start := time.Now()
	msg, res, err := s.exchange(ctx, q, b, earlier(start.Add(f.tryTimeout), deadline))
	if !probe {
		f.record(s, res, time.Since(start), err)
	}
	if res != resTruncated || s.ep.transport != transUDP {
		return msg, res, err
	}
	start = time.Now()
	msg, res, err = s.exchangeTCP(ctx, q, b, earlier(start.Add(f.tryTimeout), deadline))
	if !probe {
		f.record(s, res, time.Since(start), err)
	}
	return msg, res, err
}

// race asks a and b at once (parallel strategy) and returns the first
// final answer, cancelling the other; nil if both failed (recorded in
// fails at 0 and 1).
func (f *Forwarder) race(ctx context.Context, a, b *server, q *query, deadline time.Time, fails *failures) []byte {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		i   int
		msg []byte
		res result
		err error
	}
	done := make(chan outcome, 2)
	for i, s := range [2]*server{a, b} {
		go func() {
			rb := f.bufs.Get().(*buffers)
			rq := q.clone(rb)
			msg, res, err := f.attempt(rctx, s, &rq, rb, deadline, false)
			f.bufs.Put(rb)
			done <- outcome{i, msg, res, err}
		}()
	}
	for range 2 {
		o := <-done
		if o.res == resSuccess {
			return o.msg // the loser sees rctx cancelled: not counted
		}
		fails.set(o.i, o.res, o.err)
	}
	return nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// failures keeps the last failure of each server, in config order.
type failures struct {
	errs []error
	res  []result
}

func newFailures(n int) *failures {
	return &failures{errs: make([]error, n), res: make([]result, n)}
}

func (fs *failures) set(i int, r result, err error) {
	fs.errs[i], fs.res[i] = err, r
}

// retryable reports whether server i last failed in a way that asking it
// again may fix: a lost or forged packet, not an answer.
func (fs *failures) retryable(i int) bool {
	return fs != nil && (fs.res[i] == resTimeout || fs.res[i] == resMismatch)
}

func (fs *failures) anyRetryable() bool {
	if fs == nil {
		return false
	}
	for i := range fs.res {
		if fs.retryable(i) {
			return true
		}
	}
	return false
}

// error summarises why Resolve gave up. It wraps every server's last
// failure (and ctx's cause, if cancelled), so errors.Is works on them.
func (fs *failures) error(ctx context.Context, start, deadline time.Time) error {
	e := &failedError{}
	tried := 0
	if fs != nil {
		for _, err := range fs.errs {
			if err != nil {
				e.errs = append(e.errs, err)
				tried++
			}
		}
	}
	switch cause := context.Cause(ctx); {
	case cause != nil:
		e.reason = "upstream: query abandoned"
		if !errors.Is(errors.Join(e.errs...), cause) {
			e.errs = append([]error{cause}, e.errs...)
		}
	case fs != nil && tried == len(fs.errs) && time.Now().Before(deadline):
		e.reason = fmt.Sprintf("upstream: all %d servers failed", tried)
	default:
		e.reason = fmt.Sprintf("upstream: no answer within %v", deadline.Sub(start).Round(time.Millisecond))
	}
	return e
}

// failedError is Resolve's error when no upstream gave a final answer.
type failedError struct {
	reason string
	errs   []error
}

func (e *failedError) Error() string { return errlist.Format(e.reason, e.errs) }

func (e *failedError) Unwrap() []error { return e.errs }
