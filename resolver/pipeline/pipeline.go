// Package pipeline is Bulwark's request path between the listeners and the
// upstreams: one packet in, one answer out. Build assembles it in the
// order a query takes it —
//
//	guard (ACL, rate, sanity) → policy (block, CNAME cloaking) → RD=0 (cache only) → cache → route (forward | recursive | conditional)
//
// — and Serve runs a packet through it: parse, the chain, finish, pack,
// count, observe. The UDP fast path is a hook on the same pipeline that
// asks the same guard, policy and encoder and skips only the unpacking
// (docs/ARCHITECTURE.md). The pipeline knows nothing of sockets; the
// listeners (package resolver) know nothing of its steps.
package pipeline

import (
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/logs"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// Pipeline is one generation's request path. It is immutable once built;
// a reload builds a new one and the listeners swap it in whole.
type Pipeline struct {
	chain    query.Resolver
	fast     *FastPath // nil: no fast path
	observer query.Observer
	udpSize  int
	metrics  *Metrics
	logger   *slog.Logger
	tenants  *tenants // nil: no tenants configured
	// active counts the queries inside chain, so that a replaced
	// generation is closed only once they are answered (Drain).
	active *atomic.Int64
}

// Options are the settings every pipeline needs.
type Options struct {
	// UDPSize is the largest UDP answer sent and the size our OPT
	// advertises (listen.udp_size); 0 means 1232.
	UDPSize int
	// Observer sees every answered query (nil: none).
	Observer query.Observer
	Metrics  *Metrics
	Logger   *slog.Logger
}

// DefaultUDPSize is what DNS flag day 2020 recommends.
const DefaultUDPSize = 1232

// New returns a pipeline that answers with chain and no fast path. Build
// is what a server runs; New serves a chain assembled by hand.
func New(chain query.Resolver, o Options) *Pipeline {
	if o.UDPSize == 0 {
		o.UDPSize = DefaultUDPSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{chain: chain, observer: o.Observer, udpSize: o.UDPSize, metrics: o.Metrics, logger: o.Logger,
		active: &atomic.Int64{}}
}

// Parts are what a generation builds its pipeline from. The cache comes
// built, over its route (NewRoute): the two are shared between
// generations whose upstream configuration is the same, so that a list
// change keeps the warm cache.
type Parts struct {
	Guard    GuardConfig
	Blocking BlockingConfig
	Tables   Tables
	BlockLog *logs.BlockLog
	Cache    Cache
	// Fast lets the UDP fast path answer; false when answers depend on
	// more than the question (forwarded ECS), which it cannot see.
	Fast bool
	// Sink, if set, sees every block (threat-intelligence sightings).
	Sink query.BlockSink
	// Tenants selects each query's tenant (nil: one policy for all).
	Tenants *tenant.Selector
	// Servers, if set, reports the authoritative servers a name was
	// resolved with (recursion), for rpz-nsdname and rpz-nsip.
	Servers ServerSource
	Options
}

// Cache is the cache step as the pipeline uses it: a Resolver over the
// route, and the wire answers of the fast path.
type Cache interface {
	query.Resolver
	WireCache
}

// Build assembles the request path, in the order a query takes it. This
// is the one place the order is written down.
func Build(p Parts) (*Pipeline, error) {
	guard, err := NewGuard(p.Guard, nil, p.Metrics) // 1. ACL, rate, sanity
	if err != nil {
		return nil, err
	}
	policy := NewPolicy(p.Blocking, p.Tables, nil, p.BlockLog, p.Metrics) // 2. block, CNAME cloaking
	policy.sink, policy.servers = p.Sink, p.Servers
	guard.next = policy
	policy.next = p.Cache // 3. the cache, over 4. the route it was built with
	if p.Cache != nil {
		policy.next = noRecursion{p.Cache} // RD=0: the cache or REFUSED, never the route
	}
	pl := New(guard, p.Options)
	if p.Tenants != nil { // tenant.go: selected before the guard, decided on by the policy
		pl.tenants = &tenants{sel: p.Tenants, metrics: p.Metrics.forTenants(p.Tenants)}
		policy.useTenants(pl.tenants)
	}
	if p.Fast {
		pl.fast = NewFastPath(guard, policy, p.Cache)
	}
	return pl, nil
}

// WithFastPath returns a copy of p whose UDP queries fp answers where it
// can (nil: none).
func (p *Pipeline) WithFastPath(fp *FastPath) *Pipeline {
	c := *p
	c.fast = fp
	return &c
}

// WithObserver returns a copy of p reporting to o (nil: none).
func (p *Pipeline) WithObserver(o query.Observer) *Pipeline {
	c := *p
	c.observer = o
	return &c
}

// Admits reports whether client may query at all (the guard's ACL), so
// that stream listeners refuse a connection at accept; a chain without a
// guard admits everyone and decides per query.
func (p *Pipeline) Admits(client netip.Addr) bool {
	if g, ok := p.chain.(*Guard); ok {
		return g.Admits(client)
	}
	return true
}

// AnswerFast is the UDP fast path hook: it appends the answer to pkt to
// out if the fast path can give it without the chain, on the caller's
// goroutine. handled is false to send pkt to Serve; a handled query with
// an empty answer was dropped (the drop action).
func (p *Pipeline) AnswerFast(pkt []byte, client netip.AddrPort, out []byte) (_ []byte, handled bool) {
	return p.AnswerFastAt(pkt, client, out, time.Now())
}

// AnswerFastAt is AnswerFast for a packet read at time at: the UDP reader
// reads the clock once per recvmmsg batch and passes it for each of the
// batch's datagrams (the block log's time, the start of the latency
// observed), where a clock read per query was 2-4% of a blocked one.
func (p *Pipeline) AnswerFastAt(pkt []byte, client netip.AddrPort, out []byte, at time.Time) (_ []byte, handled bool) {
	if p.fast == nil {
		return out, false
	}
	return p.fast.answer(p, pkt, client, out, at)
}

// ServeUDP answers one UDP packet as the UDP listener does: the fast path
// if it can, otherwise Serve. It returns nil when no answer is sent.
func (p *Pipeline) ServeUDP(ctx context.Context, pkt []byte, client netip.AddrPort, out []byte) []byte {
	if b, ok := p.AnswerFast(pkt, client, out); ok {
		if len(b) == 0 { // a drop
			return nil
		}
		return b
	}
	return p.Serve(ctx, pkt, client, query.ProtoUDP, out)
}

// Serve answers pkt through the chain. It appends the answer to out and
// returns it, or returns nil when no answer must be sent (drop action,
// unparsable junk, responses sent to us).
func (p *Pipeline) Serve(ctx context.Context, pkt []byte, client netip.AddrPort, proto query.Proto, out []byte) []byte {
	return p.ServeID(ctx, pkt, client, proto, "", out)
}

// ServeID is Serve for a query that names its tenant: id is from the DoH
// path /dns-query/<id> or the TLS server name <id>.<server name> ("" for
// none). An id no tenant has falls back to the client address.
func (p *Pipeline) ServeID(ctx context.Context, pkt []byte, client netip.AddrPort, proto query.Proto, id string, out []byte) []byte {
	start := time.Now()
	b, o := p.respond(ctx, pkt, client, proto, id, out)
	p.done(start, client, proto, pkt, b, o)
	return b
}

// Drain returns once no query is inside the chain, or after max. It is
// called after the swap; a query that read the old pipeline just before
// it enters within microseconds, so the first look comes a little later.
func (p *Pipeline) Drain(max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		time.Sleep(20 * time.Millisecond)
		if p.active.Load() == 0 || time.Now().After(deadline) {
			return
		}
	}
}

// outcome is what the metrics and observers learn from answering one
// packet.
type outcome struct {
	qname string // "" when the packet did not parse (or see qwire)
	// qwire is the question's wire form, rendered into qname only when
	// someone observes (the fast path's names alias a reused buffer).
	qwire   []byte
	qtype   uint16
	rcode   int // -1: nothing sent
	answers int
	// decision is the rule that answered, if one did.
	decision query.Decision
	tenant   *tenant.Tenant // nil: the default policy
}

var dropped = outcome{rcode: -1}

// done counts the answer b (nil: nothing sent) and reports it to the
// observer, on whichever path answered.
func (p *Pipeline) done(start time.Time, client netip.AddrPort, proto query.Proto, pkt, b []byte, o outcome) {
	took := time.Since(start)
	if b == nil {
		p.metrics.countDropped(took.Seconds())
	} else {
		p.metrics.countResponse(o.rcode, took.Seconds())
	}
	p.tenants.countQuery(o.tenant)
	if p.observer == nil {
		return
	}
	if o.qname == "" && o.qwire != nil {
		o.qname = dnswire.QuestionName(o.qwire)
	}
	p.observer.Observe(query.Event{
		Received: start, Duration: took, Client: client, Proto: proto, Tenant: query.TenantName(o.tenant),
		Query: pkt, Response: b, QName: o.qname, QType: o.qtype, Rcode: o.rcode, Answers: o.answers,
		Decision: o.decision,
	})
}
