package recursive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"

	"github.com/bulwark-dns/bulwark/internal/clock"
	"github.com/bulwark-dns/bulwark/internal/udpsock"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
)

// Why a resolution was abandoned; errors.Is works on Resolve's error.
var (
	// ErrBudget: the query used up max_queries.
	ErrBudget = errors.New("work budget exhausted")
	// ErrTimeBudget: the query used up its time (recursion.timeout).
	ErrTimeBudget = errors.New("time budget exhausted")
	// ErrDepth: name-server address lookups nested deeper than max_depth.
	ErrDepth = errors.New("name server lookups nested too deep")
	// ErrChain: the CNAME/DNAME chain is longer than max_chain.
	ErrChain = errors.New("CNAME/DNAME chain too long")
	// ErrLoop: a CNAME/DNAME chain, or a set of glue-less delegations,
	// leads back to itself.
	ErrLoop = errors.New("loop")
	// ErrNoServer: no server of a zone gave a usable answer.
	ErrNoServer = errors.New("no usable answer from the zone's servers")
)

// primeRetry is how long the hints are used as they are after a priming
// query failed, before priming is tried again.
const primeRetry = 30 * time.Second

// Resolver is a resolver.Resolver that iterates from the root servers. It
// is safe for concurrent use; its caches are shared by all queries.
type Resolver struct {
	cfg    Config
	port   uint16
	hints  []hint
	clock  clock.Clock
	m      *Metrics
	log    *slog.Logger
	caches *caches
	infra  *infra
	// replies waits for the replies of UDP exchanges.
	replies udpsock.Poll
	// sends writes the UDP exchanges' queries, a burst at a time.
	sends sendQueue
	// qminType is the query type of minimised queries.
	qminType uint16

	prime      singleflight.Group
	primeAfter atomic.Int64 // UnixNano before which priming is not retried

	// sendFilter, when set, vetoes destinations; tests use it to make
	// sure nothing leaves loopback.
	sendFilter func(netip.Addr) bool
}

var _ contract.Resolver = (*Resolver)(nil)

// New builds a Resolver from cfg (defaults applied). clk, m and logger may
// be nil (real clock, no metrics, no logs).
func New(cfg Config, clk clock.Clock, m *Metrics, logger *slog.Logger) (*Resolver, error) {
	cfg.SetDefaults()
	if errs := cfg.Validate("recursion"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{
		cfg:      cfg,
		port:     uint16(cfg.Port),
		clock:    clk,
		m:        m,
		log:      logger,
		caches:   newCaches(cfg.DelegationCacheSize),
		infra:    newInfra(cfg.InfraCacheSize, cfg.InfraTTL, cfg.LameTTL, defaultRTO),
		qminType: dns.StringToType[strings.ToUpper(cfg.QnameMinimisationType)],
	}
	r.sends.q.Max = sendBurst
	hints := cfg.RootHints
	if len(hints) == 0 {
		hints = ianaRootHints
	}
	for _, s := range hints {
		h, _ := parseHint(s) // validated above
		r.hints = append(r.hints, h)
	}
	return r, nil
}

// query is the state of one client query: its budget and what it has
// spent. It is used by one goroutine.
type query struct {
	r        *Resolver
	deadline time.Time
	do       bool
	sent     int      // packets sent to servers
	depth    int      // deepest nesting of name-server lookups
	refs     int      // referrals followed
	pending  []string // name-server hosts being looked up (cycle detection)
	// reply is the last UDP reply, decoded: one exchange's at a time,
	// as each is judged (try) before the next is sent, and no part of
	// the message but its records is kept.
	reply dns.Msg
}

// spend accounts for one packet about to be sent.
func (q *query) spend(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if !time.Now().Before(q.deadline) {
		return ErrTimeBudget
	}
	if q.sent >= q.r.cfg.MaxQueries {
		return fmt.Errorf("%w: %d queries sent", ErrBudget, q.sent)
	}
	q.sent++
	return nil
}

// fatal reports whether err ends the whole client query rather than one
// server or one zone.
func fatal(err error) bool {
	return errors.Is(err, ErrBudget) || errors.Is(err, ErrTimeBudget) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// Resolve answers req's question by iteration. The answer carries the whole
// CNAME/DNAME chain and, for negative answers, the SOA; no OPT (the
// responder adds the client's). When the chain was under way before a
// failure, a SERVFAIL message carrying it is returned instead of an error,
// so the policy step can still judge the names it reached.
func (r *Resolver) Resolve(ctx context.Context, req *contract.Request) (*dns.Msg, error) {
	ans, err := r.answer(ctx, req, false)
	return ans.Msg, err
}

// ResolveAnswer implements query.AnswerResolver: Resolve's answer, in
// wire form when every record of it is owned by the question's name and
// holds no name a packer would compress (an address, a text, the cold
// misses' usual answers), so that the cache stores it without the
// message and the packing it costs on a miss (packAnswer). Any other
// answer is the message, as Resolve's.
func (r *Resolver) ResolveAnswer(ctx context.Context, req *contract.Request) (contract.Answer, error) {
	return r.answer(ctx, req, true)
}

// answer is Resolve and ResolveAnswer: wire says the answer may be in
// wire form.
func (r *Resolver) answer(ctx context.Context, req *contract.Request, wire bool) (contract.Answer, error) {
	deadline := time.Now().Add(r.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// No context of our own for the deadline (its timer and allocations
	// on every query): each packet's wait is cut at q.deadline, and spend
	// refuses to send past it, so the budget ends the query as surely.
	q := &query{r: r, deadline: deadline, do: req.DO}
	qname := dns.CanonicalName(req.Question.Name)
	if _, ok := dns.IsDomainName(qname); !ok || len(qname) > 255 {
		return contract.Answer{}, fmt.Errorf("recursion: %q is not a valid name", req.Question.Name)
	}

	res, err := q.resolve(ctx, qname, req.Question.Qtype, 0)
	r.m.finished(q, err)
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelDebug, "recursion failed", slog.String("qname", qname),
			slog.String("qtype", dns.Type(req.Question.Qtype).String()), slog.Int("queries", q.sent), slog.Any("err", err))
		if len(res.answer) == 0 {
			return contract.Answer{}, fmt.Errorf("recursion for %s %s: %w", qname, dns.Type(req.Question.Qtype), err)
		}
		res.rcode, res.ns = dns.RcodeServerFailure, nil
	} else if wire {
		if w := packAnswer(req.Question, qname, res); w != nil {
			return contract.Answer{Wire: w}, nil
		}
	}
	m := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Response: true, Opcode: dns.OpcodeQuery, Rcode: res.rcode, RecursionAvailable: true},
		Question: []dns.Question{req.Question},
		Answer:   res.answer,
		Ns:       res.ns,
	}
	// Records owned by the question name take the client's spelling.
	for _, rr := range m.Answer {
		if h := rr.Header(); h.Name == qname {
			h.Name = dns.Fqdn(req.Question.Name)
		}
	}
	return contract.Answer{Msg: m}, nil
}

// result is a complete resolution: the chain and data, or the negative
// answer at the chain's end.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
}

// resolve resolves name/qtype, following CNAME and DNAME chains across
// zones. On error, the result holds the chain reached so far.
func (q *query) resolve(ctx context.Context, name string, qtype uint16, depth int) (result, error) {
	var res result
	// seen holds the names the chain went through, to find a loop; made
	// at the first link that leads to another lookup, since most
	// resolutions are one lookup and need none.
	var seen map[string]bool
	first, links := name, 0
	for {
		rep, err := q.lookup(ctx, name, qtype, depth)
		if err != nil {
			return res, err
		}
		res.answer = appendNew(res.answer, rep.answer...)
		links += rep.links
		if links > q.r.cfg.MaxChain {
			return res, fmt.Errorf("%w: more than %d links", ErrChain, q.r.cfg.MaxChain)
		}
		// Authority records of every link: the proofs of wildcard
		// expansions along the chain, then the negative answer's.
		res.ns = append(res.ns, rep.ns...)
		if rep.kind != kindChain {
			res.rcode = rep.rcode
			return res, nil
		}
		if seen == nil {
			seen = map[string]bool{first: true}
		}
		for _, rr := range rep.answer {
			if c, ok := rr.(*dns.CNAME); ok {
				seen[c.Hdr.Name] = true
			}
		}
		if seen[rep.next] {
			return res, fmt.Errorf("%w: the CNAME/DNAME chain returns to %s", ErrLoop, rep.next)
		}
		seen[rep.next] = true
		name = rep.next
	}
}

// Limits of QNAME minimisation (RFC 9156 §2.3): the first labels are
// added one at a time, the rest in bigger steps, so a name with many
// labels cannot cost a query per label.
const (
	minimiseOneLab   = 4
	maxMinimiseCount = 10
)

// lookup resolves one name (no chain following across zones): it starts at
// the closest zone cut known and follows referrals down, minimising the
// name sent while above the zone that holds it.
func (q *query) lookup(ctx context.Context, name string, qtype uint16, depth int) (reply, error) {
	// zs, the servers of the zone being asked, is released when replaced
	// and at the end: most lookups allocate none.
	zs, fromCache := q.closest(ctx, name, qtype)
	defer func() { zs.release() }()
	minimise := q.r.cfg.QnameMinimisation
	// known is the deepest name known to be in zs.zone, not delegated.
	known := q.r.caches.deepestInside(zs.zone, name, q.r.clock.Now())
	count := 0 // minimised queries sent
	retried := false
	for {
		send, stype := name, qtype
		if minimise {
			if m := minimised(known, name, count); m != name {
				send, stype = m, q.r.qminType
			}
		}
		isMin := send != name
		rep, err := q.ask(ctx, zs, send, stype, depth, isMin)
		if err != nil {
			if fatal(err) {
				return reply{}, err
			}
			var ae *askError
			if isMin && errors.As(err, &ae) && ae.answered {
				// RFC 9156 §3's relaxed mode: servers that choke on
				// the minimised query get the full one.
				q.r.m.fellBack(fallbackQmin)
				minimise = false
				continue
			}
			if fromCache && !retried && zs.zone != "." {
				// The cut we remembered may have gone stale: ask its
				// parent again, once.
				q.r.caches.deleg.remove(zs.zone)
				retried = true
				zs.release()
				zs, fromCache = q.closest(ctx, name, qtype)
				known, count = q.r.caches.deepestInside(zs.zone, name, q.r.clock.Now()), 0
				continue
			}
			return reply{}, err
		}
		if isMin {
			count++
		}
		switch rep.kind {
		case kindReferral:
			q.refs++
			zs.release()
			zs = q.r.fromReferral(rep, true)
			fromCache = false
			known = q.r.caches.deepestInside(rep.cut, name, q.r.clock.Now())
			continue
		case kindNXDomain:
			if isMin {
				// Relaxed mode: some servers deny empty non-terminals.
				q.r.m.fellBack(fallbackQmin)
				minimise = false
				continue
			}
		case kindAnswer, kindNoData, kindChain:
			if isMin {
				if rep.links > 0 || rep.kind == kindChain {
					minimise = false // an alias on the way: ask the full name
					continue
				}
				if stype == dns.TypeNS && rep.kind == kindAnswer && len(rep.nsHosts) > 0 {
					// The zone's own NS set from a server of both
					// parent and child: a cut, as a referral would say.
					rep.cut = send
					q.refs++
					zs.release()
					zs, fromCache = q.r.fromReferral(rep, true), false
					known = q.r.caches.deepestInside(rep.cut, name, q.r.clock.Now())
					continue
				}
				known = send
				q.r.caches.putInside(zs.zone, send, rep.ttl(), q.r.clock.Now())
				continue
			}
		}
		return rep, nil
	}
}

// minimised is the name to send while resolving name, when known is the
// deepest ancestor known not to be delegated below the zone being asked
// and count minimised queries were sent so far.
func minimised(known, name string, count int) string {
	have, total := dns.CountLabel(known), dns.CountLabel(name)
	remaining := total - have
	if remaining <= 1 {
		return name
	}
	step := 1
	if count >= minimiseOneLab {
		left := maxMinimiseCount - count
		if left <= 1 {
			return name
		}
		step = max(1, remaining/left)
	}
	if have+step >= total {
		return name
	}
	idx := dns.Split(name)
	return name[idx[len(idx)-have-step]:]
}

// parent is the name one label up; the root's parent is the root.
func parent(name string) string {
	if name == "." {
		return name
	}
	// NextLabel walks one label (escapes included) without allocating
	// the index slice dns.Split would, on every step of a cache walk.
	off, end := dns.NextLabel(name, 0)
	if end || off >= len(name) {
		return "."
	}
	return name[off:]
}

// isSubDomain reports whether child is parent or a name below it, label by
// label and ignoring case, as dns.IsSubDomain does for fully qualified
// names, without the two label-index slices that allocates: the bailiwick
// checks run it on every record of every reply.
func isSubDomain(parent, child string) bool {
	if parent == "." {
		return true
	}
	for off, end := 0, false; !end; off, end = dns.NextLabel(child, off) {
		if len(child)-off == len(parent) && dnswire.EqualFold(child[off:], parent) {
			return true
		}
	}
	return false
}

// closest returns the servers of the deepest zone cut cached above name
// (above its parent for DS, which the parent side answers), or the root's;
// the caller releases them.
func (q *query) closest(ctx context.Context, name string, qtype uint16) (*zoneServers, bool) {
	start := name
	if qtype == dns.TypeDS {
		start = parent(name)
	}
	now := q.r.clock.Now()
	for n := start; n != "."; n = parent(n) {
		if d, ok := q.r.caches.delegation(n, now); ok {
			return q.r.newZoneServers(d.zone, d.ns, nil, now, true), true
		}
	}
	return q.rootServers(ctx), false
}

// rootServers returns the root's servers: the primed NS set when known,
// else the hints after trying to prime (RFC 8109); the caller releases
// them.
func (q *query) rootServers(ctx context.Context) *zoneServers {
	r := q.r
	now := r.clock.Now()
	if d, ok := r.caches.delegation(".", now); ok {
		return r.newZoneServers(".", d.ns, nil, now, true)
	}
	if now.UnixNano() >= r.primeAfter.Load() {
		v, _, _ := r.prime.Do("prime", func() (any, error) { return q.primeRoot(ctx), nil })
		if zs, ok := v.(*zoneServers); ok && zs != nil {
			return zs
		}
	}
	return r.hintServers()
}

// primeRoot asks the hints for the root NS set and caches it with its
// addresses. It returns nil, and leaves the hints in use for a while, if
// that fails.
func (q *query) primeRoot(ctx context.Context) *zoneServers {
	r := q.r
	rep, err := q.ask(ctx, r.hintServers(), ".", dns.TypeNS, 0, false)
	now := r.clock.Now()
	if err != nil || rep.kind != kindAnswer || len(rep.nsHosts) == 0 {
		if err == nil {
			err = fmt.Errorf("no root NS set in the answer")
		}
		if !fatal(err) {
			r.primeAfter.Store(now.Add(primeRetry).UnixNano())
			r.log.Warn("priming the root servers failed; using the root hints", "err", err)
		}
		return nil
	}
	r.storeGlue(rep.glue, now)
	r.caches.putDelegation(".", rep.nsHosts, rep.nsTTL, now)
	return r.newZoneServers(".", rep.nsHosts, rep.glue, now, false) // shared by the queries that waited: never released
}

// storeGlue remembers in-bailiwick glue, below authoritative data.
func (r *Resolver) storeGlue(gl []glue, now time.Time) {
	byHost := make(map[string][2][]netip.Addr)
	ttls := make(map[string][2]uint32)
	for _, g := range gl {
		fam := 0
		if g.addr.Is6() {
			fam = 1
		}
		sets, t := byHost[g.host], ttls[g.host]
		if len(sets[fam]) == 0 || g.ttl < t[fam] {
			t[fam] = g.ttl
		}
		sets[fam] = append(sets[fam], g.addr)
		byHost[g.host], ttls[g.host] = sets, t
	}
	for host, sets := range byHost {
		for fam, addrs := range sets {
			if len(addrs) > 0 {
				r.caches.putAddrs(host, fam == 1, addrs, ttls[host][fam], trustGlue, now)
			}
		}
	}
}

// fromReferral caches a referral's cut and glue and returns its servers,
// from serverSets when pooled (see newZoneServers).
func (r *Resolver) fromReferral(rep reply, pooled bool) *zoneServers {
	now := r.clock.Now()
	r.storeGlue(rep.glue, now)
	r.caches.putDelegation(rep.cut, rep.nsHosts, rep.nsTTL, now)
	return r.newZoneServers(rep.cut, rep.nsHosts, rep.glue, now, pooled)
}

// hostAddrs looks up the addresses of a name server host that came without
// usable glue, nested one level deeper. A first family that yields
// addresses is enough; the other is looked up only if it does not.
func (q *query) hostAddrs(ctx context.Context, host string, depth int) ([]netip.Addr, error) {
	r := q.r
	if depth > r.cfg.MaxDepth {
		return nil, fmt.Errorf("%w: looking up %s at depth %d", ErrDepth, host, depth)
	}
	for _, p := range q.pending {
		if p == host {
			return nil, fmt.Errorf("%w: name server %s is needed to look itself up", ErrLoop, host)
		}
	}
	q.pending = append(q.pending, host)
	defer func() { q.pending = q.pending[:len(q.pending)-1] }()
	q.depth = max(q.depth, depth)

	var out []netip.Addr
	var errs []error
	for _, v6 := range r.families() {
		known := r.caches.hostAddrs(host, r.clock.Now())
		set := known.v4
		qtype := dns.TypeA
		if v6 {
			set, qtype = known.v6, dns.TypeAAAA
		}
		if set.expires.IsZero() {
			res, err := q.resolve(ctx, host, qtype, depth)
			if fatal(err) {
				return nil, err
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			addrs, ttl := addressesIn(res, qtype, r.cfg.LameTTL)
			r.caches.putAddrs(host, v6, addrs, ttl, trustAnswer, r.clock.Now())
			set.addrs = addrs
		}
		out = append(out, set.addrs...)
		if len(out) > 0 {
			return out, nil
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("name server %s: %w", host, errors.Join(errs...))
	}
	return nil, fmt.Errorf("name server %s has no address", host)
}

// families lists the address families in use, IPv4 first.
func (r *Resolver) families() []bool {
	switch {
	case r.cfg.IPv4 && r.cfg.IPv6:
		return []bool{false, true}
	case r.cfg.IPv6:
		return []bool{true}
	}
	return []bool{false}
}

// addressesIn extracts the addresses of a host lookup and how long to keep
// them: the records' TTL, or for "none" the negative TTL capped at max.
func addressesIn(res result, qtype uint16, max time.Duration) ([]netip.Addr, uint32) {
	var out []netip.Addr
	var ttl uint32
	for _, rr := range res.answer {
		var a netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			if qtype == dns.TypeA {
				a, _ = netip.AddrFromSlice(rr.A.To4())
			}
		case *dns.AAAA:
			if qtype == dns.TypeAAAA {
				a, _ = netip.AddrFromSlice(rr.AAAA.To16())
			}
		}
		if !a.IsValid() {
			continue
		}
		if len(out) == 0 || rr.Header().Ttl < ttl {
			ttl = rr.Header().Ttl
		}
		out = append(out, a.Unmap())
	}
	if len(out) > 0 {
		return out, ttl
	}
	neg := uint32(max / time.Second)
	for _, rr := range res.ns {
		if soa, ok := rr.(*dns.SOA); ok {
			neg = min(neg, soa.Hdr.Ttl, soa.Minttl)
		}
	}
	return nil, neg
}
