package pipeline

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// ChaosConfig is the `chaos:` section: the CHAOS-class identity queries
// operators use to tell which server of a pool answered (RFC 4892). Empty
// strings answer REFUSED, the default, since a version string helps
// attackers more than anyone.
type ChaosConfig struct {
	// Version answers version.bind and version.server TXT queries.
	Version string `yaml:"version"`
	// ID answers id.server and hostname.bind TXT queries.
	ID string `yaml:"id"`
}

// GuardConfig gathers what the guard enforces; each part is its own YAML
// section of the root config.
type GuardConfig struct {
	ACL       ACLConfig
	RateLimit RateLimitConfig
	Chaos     ChaosConfig
	// Clock drives the rate limiter's token buckets.
	Clock clock.Clock
}

// Guard is the first step of the chain: it answers whatever should not
// reach the policy and the upstreams — clients outside the ACL, clients over
// their rate, and queries that are not a well-formed standard query — so
// nothing below it ever sees them.
type Guard struct {
	acl     *acl
	limiter *limiter // nil: no rate limiting
	errs    *limiter // the error answers' bucket; nil: off
	// dropOver: over the query rate, drop rather than truncate.
	dropOver bool
	chaos    ChaosConfig
	metrics  *Metrics
	next     query.Resolver
}

// NewGuard returns the guard step in front of next. cfg must be validated.
func NewGuard(cfg GuardConfig, next query.Resolver, m *Metrics) (*Guard, error) {
	cfg.ACL.SetDefaults()
	cfg.RateLimit.SetDefaults()
	a, err := newACL(cfg.ACL)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Guard{acl: a, limiter: newLimiter(cfg.RateLimit, cfg.Clock), errs: newErrorsLimiter(cfg.RateLimit, cfg.Clock),
		dropOver: cfg.RateLimit.Action == "drop", chaos: cfg.Chaos, metrics: m, next: next}, nil
}

// verdict is the guard's decision on one query.
type verdict uint8

const (
	pass      verdict = iota // on to the policy
	aclRefuse                // outside the ACL: REFUSED
	aclDrop                  // outside the ACL: no answer
	rateTrunc                // over the rate: an empty TC=1 answer
	rateDrop                 // over the rate: no answer
	errDrop                  // an error answer over the errors rate: no answer
	refuse                   // REFUSED: not class IN, or a zone transfer
	formErr                  // FORMERR: not one question, a meta-type, an over-long name
	notImp                   // NOTIMP: not a standard query (NOTIFY, UPDATE, ...)
	badVers                  // BADVERS: EDNS version above 0
	chaos                    // a CHAOS-class identity query
	anyQuery                 // ANY: the minimal RFC 8482 answer
)

// Admits reports whether client passes the ACL, for listeners that check it
// before any query (a TCP, DoT or DoH connection at accept).
func (g *Guard) Admits(client netip.Addr) bool { return g.acl.allowed(client) }

// admit is the chain's decision on the client: the ACL (a refusal takes a
// token of the errors bucket), then the rate (UDP only). It takes a token
// from the client's bucket, so a query must be admitted once, on one path;
// the fast path checks the ACL alone and takes the token (rate) only once
// it is sure to answer.
func (g *Guard) admit(client netip.Addr, proto query.Proto) verdict {
	if !g.acl.allowed(client) {
		if g.acl.drop {
			return aclDrop
		}
		return g.limitError(aclRefuse, client, proto)
	}
	return g.rate(client, proto)
}

// rate takes a token from a UDP client's query bucket: pass, or the
// over-limit verdict.
func (g *Guard) rate(client netip.Addr, proto query.Proto) verdict {
	if g.limiter == nil || proto != query.ProtoUDP || g.limiter.allow(client) {
		return pass
	}
	if g.dropOver {
		return rateDrop
	}
	return rateTrunc
}

// limitError passes the error answer v to a UDP client while its
// network's errors bucket has a token, and drops it past that.
func (g *Guard) limitError(v verdict, client netip.Addr, proto query.Proto) verdict {
	if g.errs == nil || proto != query.ProtoUDP || g.errs.allow(client) {
		return v
	}
	return errDrop
}

// isError reports whether the guard's answer for v is an error (REFUSED,
// FORMERR, NOTIMP, BADVERS), limited by the errors bucket.
func (v verdict) isError() bool {
	return v == aclRefuse || v == refuse || v == formErr || v == notImp || v == badVers
}

// shape is what the guard's sanity check reads of a query; the chain
// fills it from the parsed message, the UDP fast path from the wire.
type shape struct {
	opcode  int
	qdcount int
	// nameLen is the question name's length in wire octets.
	nameLen int
	qclass  uint16
	qtype   uint16
	// ednsVersion is the OPT record's version, -1 without one.
	ednsVersion int
}

// shapeOf reads the shape of a parsed query.
func shapeOf(req *query.Request) shape {
	s := shape{opcode: req.Msg.Opcode, qdcount: len(req.Msg.Question), ednsVersion: -1,
		qclass: req.Question.Qclass, qtype: req.Question.Qtype}
	if s.qdcount > 0 {
		s.nameLen = wireNameLen(req.Question.Name)
	}
	if opt := req.Msg.IsEdns0(); opt != nil {
		s.ednsVersion = int(opt.Version())
	}
	return s
}

// wireNameLen is the wire length of a presentation name (more than
// MaxNameLen for one that does not pack). Escapes only make the wire form
// shorter than the text, so a short text needs no packing.
func wireNameLen(name string) int {
	if len(name) < dnswire.MaxNameLen {
		return len(name) + 1
	}
	var buf [4 * dnswire.MaxNameLen]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return dnswire.MaxNameLen + 1
	}
	return n
}

// sane is the guard's decision on the query itself: only a well-formed
// standard query for one IN-class question passes. Opcodes other than
// QUERY (NOTIFY, UPDATE, ...) are refused here as NOTIMP.
func (g *Guard) sane(s shape) verdict {
	switch {
	case s.opcode != dns.OpcodeQuery:
		return notImp
	case s.qdcount != 1 || s.nameLen > dnswire.MaxNameLen:
		return formErr
	case s.ednsVersion > 0:
		// RFC 6891 §6.1.3: answer BADVERS with our highest version, 0.
		return badVers
	case s.qclass == dns.ClassCHAOS:
		return chaos
	case s.qclass != dns.ClassINET:
		return refuse
	case s.qtype == dns.TypeAXFR || s.qtype == dns.TypeIXFR:
		// Zone transfers are for authoritative servers, not a resolver.
		return refuse
	case s.qtype == dns.TypeOPT || s.qtype == dns.TypeTSIG || s.qtype == dns.TypeTKEY:
		// Meta-types are not questions (RFC 6895 §3.1).
		return formErr
	case s.qtype == dns.TypeANY:
		return anyQuery
	}
	return pass
}

// Resolve implements query.Resolver.
func (g *Guard) Resolve(ctx context.Context, req *query.Request) (*dns.Msg, error) {
	v := g.admit(req.Client.Addr(), req.Proto)
	if v == pass {
		if v = g.sane(shapeOf(req)); v.isError() {
			v = g.limitError(v, req.Client.Addr(), req.Proto)
		}
	}
	if v == pass {
		return g.next.Resolve(ctx, req)
	}
	return g.answer(v, req.Question)
}

// answer is the answer of a verdict other than pass; the client
// verdicts are counted here, on the path that answers them.
func (g *Guard) answer(v verdict, q dns.Question) (*dns.Msg, error) {
	switch v {
	case aclRefuse, aclDrop:
		g.metrics.countACLDenied()
	case rateTrunc, rateDrop, errDrop:
		g.metrics.countRateLimited()
	}
	switch v {
	case aclDrop, rateDrop, errDrop:
		return nil, query.ErrDrop
	case rateTrunc:
		m := new(dns.Msg)
		m.Truncated = true
		return m, nil
	case aclRefuse, refuse:
		return rcodeMsg(dns.RcodeRefused), nil
	case notImp:
		return rcodeMsg(dns.RcodeNotImplemented), nil
	case badVers:
		return rcodeMsg(dns.RcodeBadVers), nil
	case chaos:
		return g.chaosAnswer(q), nil
	case anyQuery:
		return anyAnswer(q), nil
	}
	return rcodeMsg(dns.RcodeFormatError), nil
}

// chaosAnswer answers the CHAOS identity queries, REFUSED for anything else
// or when the operator configured no answer.
func (g *Guard) chaosAnswer(q dns.Question) *dns.Msg {
	var text string
	if q.Qtype == dns.TypeTXT {
		switch strings.ToLower(q.Name) {
		case "version.bind.", "version.server.":
			text = g.chaos.Version
		case "id.server.", "hostname.bind.":
			text = g.chaos.ID
		}
	}
	if text == "" {
		return rcodeMsg(dns.RcodeRefused)
	}
	m := new(dns.Msg)
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{text},
	}}
	return m
}

// anyAnswer is the minimal answer to an ANY query that RFC 8482 §4.2
// allows: one synthesized HINFO. ANY answers are the favourite payload of
// amplification attacks, and no real client depends on them.
func anyAnswer(q dns.Question) *dns.Msg {
	m := new(dns.Msg)
	m.Answer = []dns.RR{&dns.HINFO{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600},
		Cpu: "RFC8482",
	}}
	return m
}

func rcodeMsg(rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.Rcode = rcode
	return m
}
