package resolver

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
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
	chaos   ChaosConfig
	metrics *Metrics
	next    Resolver
}

// NewGuard returns the guard step in front of next. cfg must be validated.
func NewGuard(cfg GuardConfig, next Resolver, m *Metrics) (*Guard, error) {
	cfg.ACL.SetDefaults()
	cfg.RateLimit.SetDefaults()
	a, err := newACL(cfg.ACL)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Guard{acl: a, limiter: newLimiter(cfg.RateLimit, cfg.Clock), chaos: cfg.Chaos, metrics: m, next: next}, nil
}

// Admits implements Admitter: the ACL.
func (g *Guard) Admits(client netip.Addr) bool { return g.acl.allowed(client) }

// Resolve implements Resolver.
func (g *Guard) Resolve(ctx context.Context, req *Request) (*dns.Msg, error) {
	if !g.acl.allowed(req.Client.Addr()) {
		g.metrics.countACLDenied()
		if g.acl.drop {
			return nil, ErrDrop
		}
		return rcodeMsg(dns.RcodeRefused), nil
	}
	if g.limiter != nil && req.Proto == ProtoUDP && !g.limiter.allow(req.Client.Addr()) {
		g.metrics.countRateLimited()
		if g.limiter.cfg.Action == "drop" {
			return nil, ErrDrop
		}
		m := new(dns.Msg)
		m.Truncated = true
		return m, nil
	}
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
	q := req.Question
	switch {
	case q.Qclass == dns.ClassCHAOS:
		return g.chaosAnswer(q), nil
	case q.Qclass != dns.ClassINET:
		return rcodeMsg(dns.RcodeRefused), nil
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Zone transfers are for authoritative servers, not a resolver.
		return rcodeMsg(dns.RcodeRefused), nil
	case q.Qtype == dns.TypeOPT || q.Qtype == dns.TypeTSIG || q.Qtype == dns.TypeTKEY:
		// Meta-types are not questions (RFC 6895 §3.1).
		return rcodeMsg(dns.RcodeFormatError), nil
	case q.Qtype == dns.TypeANY:
		return anyAnswer(q), nil
	}
	return g.next.Resolve(ctx, req)
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
