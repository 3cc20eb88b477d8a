// Package query is the contract every step of the request path shares: the
// parsed Request, the Resolver interface a step implements, the transport a
// query came on, and the Event observers see once it is answered. It is a
// leaf: the listeners, the pipeline steps, the cache, the upstreams and the
// observers import it, and it imports none of them (docs/ARCHITECTURE.md).
package query

import (
	"context"
	"errors"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/tenant"
)

// Resolver answers one request. Every step of the chain is a Resolver that
// wraps the next, in the style of net/http middleware.
type Resolver interface {
	Resolve(ctx context.Context, req *Request) (*dns.Msg, error)
}

// ResolverFunc adapts a function to the Resolver interface.
type ResolverFunc func(ctx context.Context, req *Request) (*dns.Msg, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, req *Request) (*dns.Msg, error) {
	return f(ctx, req)
}

// ErrDrop asks the listener to send no answer at all (the "drop" action).
var ErrDrop = errors.New("drop: no answer sent")

// Proto is the transport a query arrived on.
type Proto uint8

// Transports, in the order metrics label them.
const (
	ProtoUDP Proto = iota
	ProtoTCP
	// ProtoDoT is DNS over TLS (RFC 7858).
	ProtoDoT
	// ProtoDoH is DNS over HTTPS (RFC 8484).
	ProtoDoH
	// NumProtos bounds the values above, for tables indexed by Proto.
	NumProtos
)

var protoNames = [NumProtos]string{"udp", "tcp", "dot", "doh"}

// String returns the metric and log label for p.
func (p Proto) String() string {
	if p < NumProtos {
		return protoNames[p]
	}
	return "unknown"
}

// Request carries a client query, parsed once at the listener, down the
// chain. Steps must treat it as read-only, except Decided.
type Request struct {
	// Msg is the client's query as received.
	Msg *dns.Msg
	// Question is Msg.Question[0] (the guard ensures there is exactly one).
	Question dns.Question
	// Client is the client's address and port.
	Client netip.AddrPort
	Proto  Proto
	// Tenant is the organisation whose policy applies (package
	// resolver/tenant); nil for the default policy.
	Tenant *tenant.Tenant
	// EDNS facts from the client's OPT record.
	EDNS    bool
	DO      bool
	UDPSize uint16
	// Wire, if set, takes the answer in wire form (WireAnswer): the
	// responder sets it, the policy its Check, the cache answers into it.
	// A step that copies the request for a query of its own clears it.
	Wire *WireAnswer
	// Decided is the policy's decision when a rule answered the query
	// (blocked it, or answered its own data), for the observers (dnstap's
	// Policy message); the policy step sets it, zero Table otherwise.
	Decided Decision
}

// NewRequest parses the facts the chain needs out of msg once.
func NewRequest(msg *dns.Msg, client netip.AddrPort, proto Proto) *Request {
	r := new(Request)
	r.Init(msg, client, proto)
	return r
}

// Init makes r the request NewRequest would return, for a caller that
// allocates it together with what it answers with (the responder).
func (r *Request) Init(msg *dns.Msg, client netip.AddrPort, proto Proto) {
	*r = Request{Msg: msg, Client: client, Proto: proto, UDPSize: dns.MinMsgSize}
	if len(msg.Question) > 0 {
		r.Question = msg.Question[0]
	}
	if opt := msg.IsEdns0(); opt != nil {
		r.EDNS = true
		r.DO = opt.Do()
		if sz := opt.UDPSize(); sz > dns.MinMsgSize {
			r.UDPSize = sz
		}
	}
}

// Decision is what the policy decided about a query a rule blocked: the
// list snapshot that decided, the deciding rule, and the CNAME target it
// matched when that was not the query name. Block logs and block metrics
// are built from it, whichever path answered.
type Decision struct {
	Table *blocklist.Table
	Match blocklist.Match
	// CNAME is the canonical (lower case, no trailing dot) CNAME or DNAME
	// target the rule matched; "" when it matched the query name.
	CNAME string
	// Trigger is what the rule matched (RPZ): the query name (or CNAME),
	// or for an address trigger the network Prefix that held the client,
	// an answer address or a name server's address.
	Trigger blocklist.Trigger
	Prefix  netip.Prefix
	// Tenant is whose policy decided (Match.Payload.Action is already the
	// tenant's override); nil for the default policy.
	Tenant *tenant.Tenant
}

// Matched is the name d's rule matched for a query for qname: the CNAME
// target it blocked, or qname itself.
func (d *Decision) Matched(qname string) string {
	if d.CNAME != "" {
		return d.CNAME
	}
	return qname
}

// Rule is d's rule as every log writes it: the network of an address
// trigger, else the rule as RPZ and explain show it (Match.RuleText) for
// the name it matched.
func (d *Decision) Rule(qname string) string {
	if d.Prefix.IsValid() {
		return d.Prefix.String()
	}
	return d.Match.RuleText(d.Matched(qname))
}

// TenantName is the name of d's tenant, "" for the default policy: the
// value of every log's and metric's tenant field.
func (d *Decision) TenantName() string { return TenantName(d.Tenant) }

// TenantName is t's name, "" for nil or the default policy.
func TenantName(t *tenant.Tenant) string {
	if t == nil {
		return ""
	}
	return t.Name
}
