package pipeline

import (
	"context"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/query"
)

// noRecursion is the step between the policy and the cache that keeps
// queries with RD clear from the upstreams (RFC 1034 §4.3.1): such a
// query asks what the resolver already holds, so it is answered from the
// cache or refused, never forwarded or iterated, in either mode. Stub
// resolvers always set RD; a query without it is a cache probe (a
// monitoring check, or someone snooping on what others looked up).
type noRecursion struct {
	cache Cache
}

// Resolve implements query.Resolver.
func (n noRecursion) Resolve(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	if req.Msg == nil || req.Msg.RecursionDesired {
		return n.cache.Resolve(ctx, req)
	}
	if m, ok := n.cached(req); ok {
		return m, nil
	}
	m := rcodeMsg(dns.RcodeRefused)
	if req.EDNS {
		m.Extra = append(m.Extra, &dns.OPT{
			Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT},
			// RFC 8914 §4.21: the code for a resolver refusing RD=0.
			Option: []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNotAuthoritative,
				ExtraText: "recursion not desired and not in the cache"}},
		})
	}
	return m, nil
}

// cached is the fresh cached answer to req, if any. The policy above
// still checks it (CNAME cloaking), so every answer may be served here.
func (n noRecursion) cached(req *query.Request) (*dns.Msg, bool) {
	probe := *req
	probe.Wire = nil
	probe.Proto = query.ProtoTCP // the whole answer; the listener truncates
	b, ok := n.cache.AppendWire(nil, &probe, servesAll{})
	if !ok {
		return nil, false
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, false
	}
	return m, true
}

// servesAll lets every cached answer through.
type servesAll struct{}

func (servesAll) ServesWire([]dns.RR) bool { return true }
