package resolver

import (
	"context"

	"github.com/miekg/dns"
)

// Guard is the first step of the chain: it answers queries that are not a
// well-formed standard query itself, so nothing below it ever sees them.
// (ACLs and rate limits join it in a later issue.)
type Guard struct {
	next Resolver
}

// NewGuard returns the guard step in front of next.
func NewGuard(next Resolver) *Guard { return &Guard{next: next} }

// Resolve implements Resolver.
func (g *Guard) Resolve(ctx context.Context, req *Request) (*dns.Msg, error) {
	msg := req.Msg
	switch {
	case msg.Opcode != dns.OpcodeQuery:
		return rcodeMsg(dns.RcodeNotImplemented), nil
	case len(msg.Question) != 1:
		return rcodeMsg(dns.RcodeFormatError), nil
	}
	if opt := msg.IsEdns0(); opt != nil && opt.Version() != 0 {
		// RFC 6891 §6.1.3: answer BADVERS with our highest version, 0.
		return rcodeMsg(dns.RcodeBadVers), nil
	}
	switch q := req.Question; {
	case q.Qclass != dns.ClassINET:
		return rcodeMsg(dns.RcodeRefused), nil
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Zone transfers are for authoritative servers, not a resolver.
		return rcodeMsg(dns.RcodeRefused), nil
	case q.Qtype == dns.TypeOPT:
		return rcodeMsg(dns.RcodeFormatError), nil
	}
	return g.next.Resolve(ctx, req)
}

func rcodeMsg(rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.Rcode = rcode
	return m
}
