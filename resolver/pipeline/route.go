package pipeline

import (
	"context"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/query"
)

// Forwarder is the forwarding side of the route step: upstream servers
// for every name, or for the conditional domains it Covers.
type Forwarder interface {
	query.Resolver
	// Covers reports whether name is in a conditional domain.
	Covers(name string) bool
}

// NewRoute returns the last step of the chain, below the cache: the
// recursive resolver when there is one, with the conditional domains
// still forwarded (corp.internal goes to the internal servers, everything
// else is resolved from the root); otherwise the forwarder alone.
func NewRoute(fwd Forwarder, recursive query.Resolver) query.Resolver {
	switch {
	case recursive == nil:
		return fwd
	case fwd == nil:
		return recursive
	}
	return conditional{fwd: fwd, rec: recursive}
}

// conditional routes a query by name: conditional domains to the
// forwarder, the rest to the recursive resolver.
type conditional struct {
	fwd Forwarder
	rec query.Resolver
}

// Resolve implements query.Resolver.
func (c conditional) Resolve(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	if c.fwd.Covers(req.Question.Name) {
		return c.fwd.Resolve(ctx, req)
	}
	return c.rec.Resolve(ctx, req)
}

// ResolveAnswer implements query.AnswerResolver: the forwarder's answers
// in wire form, the recursive resolver's decoded.
func (c conditional) ResolveAnswer(ctx context.Context, req *query.Request) (query.Answer, error) {
	if c.fwd.Covers(req.Question.Name) {
		return query.ResolveAnswer(ctx, c.fwd, req)
	}
	return query.ResolveAnswer(ctx, c.rec, req)
}
