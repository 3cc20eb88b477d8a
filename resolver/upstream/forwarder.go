// Package upstream forwards queries to the configured upstream servers: the
// last step of the request path. It guards against off-path spoofing
// (random IDs and source ports, strict reply matching), keeps the client's
// EDNS to itself, and fails over between servers within one time budget.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver"
)

// maxPasses bounds how often the server list is walked again for servers
// that timed out, so a tiny try_timeout cannot turn one client query into a
// burst of upstream packets.
const maxPasses = 3

// Forwarder is a resolver.Resolver that forwards to upstream servers in
// config order. It is immutable after New and safe for concurrent use.
type Forwarder struct {
	servers    []*server
	timeout    time.Duration
	tryTimeout time.Duration
	log        *slog.Logger
	bufs       sync.Pool // *buffers
}

var _ resolver.Resolver = (*Forwarder)(nil)

// New builds a Forwarder from cfg (defaults applied). m and logger may be
// nil.
func New(cfg Config, m *Metrics, logger *slog.Logger) (*Forwarder, error) {
	cfg.SetDefaults()
	if errs := cfg.Validate("upstream"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{
		timeout:    cfg.Timeout,
		tryTimeout: cfg.TryTimeout,
		log:        logger,
		bufs:       sync.Pool{New: func() any { return new(buffers) }},
	}
	for _, s := range cfg.Servers {
		ep, _ := parseServer(s) // validated above
		f.servers = append(f.servers, newServer(s, ep, m))
	}
	return f, nil
}

// Resolve forwards req's question and returns the first final answer
// (NOERROR, NXDOMAIN), without an OPT record, or an error naming why each
// upstream tried failed. It gives up at ctx's deadline or the configured
// timeout, whichever comes first, and at once when ctx is cancelled.
func (f *Forwarder) Resolve(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
	start := time.Now()
	deadline := start.Add(f.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	b := f.bufs.Get().(*buffers)
	defer f.bufs.Put(b)
	rd, cd := true, false
	if req.Msg != nil {
		rd, cd = req.Msg.RecursionDesired, req.Msg.CheckingDisabled
	}
	q, err := packQuery(b.query[:], req.Question, rd, cd, req.DO)
	if err != nil {
		return nil, fmt.Errorf("upstream: cannot forward %q: %w", req.Question.Name, err)
	}

	var fails *failures // allocated on the first failure only
	for pass := range maxPasses {
		for i, s := range f.servers {
			if pass > 0 && !fails.retryable(i) {
				continue
			}
			if ctx.Err() != nil || !time.Now().Before(deadline) {
				return nil, fails.error(ctx, start, deadline)
			}
			msg, res, err := f.try(ctx, s, &q, b, deadline)
			if res == resSuccess {
				return msg, nil
			}
			if fails == nil {
				fails = newFailures(len(f.servers))
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

// try asks one server: over UDP, then over TCP if the reply was truncated,
// each exchange with its own try timeout within the overall deadline.
func (f *Forwarder) try(ctx context.Context, s *server, q *query, b *buffers, deadline time.Time) (*dns.Msg, result, error) {
	start := time.Now()
	msg, res, err := s.exchangeUDP(ctx, q, b, earlier(start.Add(f.tryTimeout), deadline))
	s.m.observe(res, time.Since(start))
	if res != resTruncated {
		return msg, res, err
	}
	start = time.Now()
	msg, res, err = s.exchangeTCP(ctx, q, b, earlier(start.Add(f.tryTimeout), deadline))
	s.m.observe(res, time.Since(start))
	return msg, res, err
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

func (e *failedError) Error() string {
	var sb strings.Builder
	sb.WriteString(e.reason)
	for i, err := range e.errs {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(err.Error())
	}
	return sb.String()
}

func (e *failedError) Unwrap() []error { return e.errs }
