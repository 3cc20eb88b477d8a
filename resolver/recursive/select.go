package recursive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/errlist"
)

// maxPasses bounds how often a zone's servers are walked again for those
// that timed out (each time with a doubled timeout).
const maxPasses = 3

// zoneServers are the name servers of one zone as one query sees them:
// their host names and the addresses known so far, both indexed like
// hosts (slices, not maps: a query builds one per zone it asks).
type zoneServers struct {
	zone   string
	hosts  []string
	addrs  [][]netip.Addr
	looked []bool         // hosts whose addresses this query looked up
	home   *inlineServers // the serverSets entry it lives in, if any
}

// inlineServers holds a zoneServers with room for the addresses of a
// small NS set, so assembling one costs a single allocation, or none when
// it comes from serverSets.
type inlineServers struct {
	zs    zoneServers
	addrs [4][]netip.Addr
	flat  [8]netip.Addr
}

// serverSets recycles the inlineServers of lookups: the servers of the
// zone a lookup asks live until it has its reply or a referral, and they
// were a tenth of the bytes a cold miss allocated.
var serverSets = sync.Pool{New: func() any { return new(inlineServers) }}

// release hands zs back to serverSets if it came from there (a
// newZoneServers with pooled set); zs must not be used after.
func (zs *zoneServers) release() {
	if zs == nil || zs.home == nil {
		return
	}
	in := zs.home
	*in = inlineServers{} // keep no hosts or addresses alive
	serverSets.Put(in)
}

// newZoneServers assembles the servers of zone: glue given with the
// referral first, else the address cache. The hosts' addresses share one
// backing array. pooled takes a small set from serverSets, for a caller
// that releases it once done.
func (r *Resolver) newZoneServers(zone string, hosts []string, gl []glue, now time.Time, pooled bool) *zoneServers {
	var (
		zs   *zoneServers
		flat []netip.Addr
	)
	if n := len(gl) + 2*len(hosts); len(hosts) <= len(inlineServers{}.addrs) && n <= len(inlineServers{}.flat) {
		var in *inlineServers // the usual few hosts: one allocation at most, not three
		if pooled {
			in = serverSets.Get().(*inlineServers)
			in.zs.home = in
		} else {
			in = new(inlineServers)
		}
		zs, flat = &in.zs, in.flat[:0:n]
		zs.addrs = in.addrs[:len(hosts):len(hosts)]
	} else {
		zs, flat = new(zoneServers), make([]netip.Addr, 0, n)
		zs.addrs = make([][]netip.Addr, len(hosts))
	}
	zs.zone, zs.hosts = zone, hosts
	any := false
	for i, h := range hosts {
		start := len(flat)
		for _, g := range gl {
			if g.host == h && r.usable(g.addr) && !slices.Contains(flat[start:], g.addr) {
				flat = append(flat, g.addr)
			}
		}
		if len(flat) == start {
			// Only usable addresses count: a host known by an address of
			// a family not in use is looked up in the other.
			known := r.caches.hostAddrs(h, now)
			for _, set := range [...][]netip.Addr{known.v4.addrs, known.v6.addrs} {
				for _, a := range set {
					if r.usable(a) {
						flat = append(flat, a)
					}
				}
			}
		}
		zs.addrs[i] = flat[start:len(flat):len(flat)]
		any = any || len(flat) > start
	}
	if zone == "." && !any {
		// The root's glue has expired before its NS set: the hints still
		// know where the root servers are.
		return r.hintServers()
	}
	return zs
}

// hintServers are the root hints as a zone's servers.
func (r *Resolver) hintServers() *zoneServers {
	zs := &zoneServers{zone: "."}
	for _, h := range r.hints {
		if !r.usable(h.addr) {
			continue
		}
		i := slices.Index(zs.hosts, h.name)
		if i < 0 {
			i = len(zs.hosts)
			zs.hosts, zs.addrs = append(zs.hosts, h.name), append(zs.addrs, nil)
		}
		zs.addrs[i] = append(zs.addrs[i], h.addr)
	}
	return zs
}

// usable reports whether the resolver may send to addr: a family in use,
// a unicast address, loopback and private or link-local addresses only
// when allowed.
func (r *Resolver) usable(addr netip.Addr) bool {
	switch {
	case !addr.IsValid(), addr.IsUnspecified(), addr.IsMulticast(), addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case addr.Is4() && !r.cfg.IPv4, addr.Is6() && !r.cfg.IPv6:
		return false
	case addr.IsLoopback() && !r.cfg.QueryLoopback:
		return false
	case isInternal(addr) && !r.cfg.QueryPrivate:
		return false
	case r.sendFilter != nil && !r.sendFilter(addr):
		return false
	}
	return true
}

// askError is ask's failure: every server of the zone tried, and why each
// failed.
type askError struct {
	zone     string
	answered bool // some server replied (with an error rcode or lameness)
	errs     []error
	note     string
}

func (e *askError) Error() string {
	reason := fmt.Sprintf("%v for zone %s", ErrNoServer, e.zone)
	if e.note != "" {
		reason += " (" + e.note + ")"
	}
	return errlist.Format(reason, e.errs)
}

func (e *askError) Unwrap() []error { return append([]error{ErrNoServer}, e.errs...) }

// lameError is a reply showing the server does not serve the zone.
type lameError struct{ why string }

func (e *lameError) Error() string { return "lame: " + e.why }

// ask sends name/qtype to the servers of zs, best first, until one gives a
// usable reply: an answer, a negative answer or a referral. Servers that
// fail are skipped; those that timed out are asked again on a later pass
// with a longer timeout; hosts without addresses are looked up (one level
// deeper) once the known addresses are exhausted.
//
// A minimised query (RFC 9156) marks no server lame: the caller asks the
// full name next, and only that reply tells whether the server serves the
// zone.
func (q *query) ask(ctx context.Context, zs *zoneServers, name string, qtype uint16, depth int, minimised bool) (reply, error) {
	r := q.r
	// fails stays on the stack: a copy is the error, on failure only.
	fails := askError{zone: zs.zone}
	state := make(map[netip.Addr]bool) // addr -> worth another pass (timed out)
	lame := 0
	var cands [8]netip.Addr // room for candidates' list of a small NS set
	// attempt asks one server; done is true when its reply or a fatal
	// error ends the search. A failure is recorded: why, and whether the
	// server is worth another pass (it timed out).
	attempt := func(addr netip.Addr) (_ reply, _ error, done bool) {
		rep, err := q.try(ctx, zs.zone, addr, name, qtype, minimised)
		switch {
		case err == nil:
			return rep, nil, true
		case fatal(err):
			return reply{}, err, true
		}
		state[addr] = errors.Is(err, errTimeout) || errors.Is(err, errMismatch)
		fails.add(err)
		return reply{}, nil, false
	}
	for pass := range maxPasses {
		for _, addr := range q.candidates(zs, state, pass, &lame, cands[:0]) {
			if rep, err, done := attempt(addr); done {
				return rep, err
			}
		}
		if pass == 0 {
			for i, host := range zs.hosts {
				if len(zs.addrs[i]) > 0 || zs.looked != nil && zs.looked[i] {
					continue
				}
				if zs.looked == nil {
					zs.looked = make([]bool, len(zs.hosts))
				}
				zs.looked[i] = true
				addrs, err := q.hostAddrs(ctx, host, depth+1)
				if fatal(err) {
					return reply{}, err
				}
				if err != nil {
					fails.add(err)
					continue
				}
				zs.addrs[i] = addrs
				for _, addr := range addrs {
					if _, tried := state[addr]; tried || !r.usable(addr) || r.infra.isLame(zs.zone, addr, r.clock.Now()) {
						continue
					}
					if rep, err, done := attempt(addr); done {
						return rep, err
					}
				}
			}
		}
		again := false
		for _, retry := range state {
			again = again || retry
		}
		if !again {
			break
		}
	}
	if rep, err, ok := q.askGlue(ctx, zs, name, qtype, minimised, state, &fails); ok {
		return rep, err
	}
	if lame > 0 {
		fails.note = fmt.Sprintf("%d servers skipped as lame", lame)
	}
	if len(fails.errs) == 0 && lame == 0 {
		fails.note = "no server address usable"
	}
	e := fails
	return reply{}, &e
}

// askGlue is ask's last resort: the parent-side glue of zs's hosts that
// the child's own answers replaced (or that a failed host lookup left
// unused), each address not tried yet. ok is false when none gave a
// usable reply and no fatal error came.
func (q *query) askGlue(ctx context.Context, zs *zoneServers, name string, qtype uint16, minimised bool,
	state map[netip.Addr]bool, fails *askError) (_ reply, _ error, ok bool) {
	r := q.r
	now := r.clock.Now()
	for _, host := range zs.hosts {
		for _, addr := range r.caches.glueAddrs(host, now) {
			if _, tried := state[addr]; tried || !r.usable(addr) || r.infra.isLame(zs.zone, addr, now) {
				continue
			}
			state[addr] = false
			rep, err := q.try(ctx, zs.zone, addr, name, qtype, minimised)
			if err == nil || fatal(err) {
				return rep, err, true
			}
			fails.add(err)
		}
	}
	return reply{}, nil, false
}

func (e *askError) add(err error) {
	e.errs = append(e.errs, err)
	var re *rcodeError
	var le *lameError
	if errors.As(err, &re) || errors.As(err, &le) {
		e.answered = true
	}
}

// candidates are the addresses to try on this pass, best first: on the
// first pass every usable address not known lame for the zone, later only
// those that timed out. Ties in score are broken at random, which spreads
// load over equally good servers. The list is appended to out (the
// caller's room, empty).
func (q *query) candidates(zs *zoneServers, state map[netip.Addr]bool, pass int, lame *int, out []netip.Addr) []netip.Addr {
	r := q.r
	now := r.clock.Now()
	for _, as := range zs.addrs {
		for _, a := range as {
			if slices.Contains(out, a) || !r.usable(a) {
				continue
			}
			if retry, tried := state[a]; tried && (pass == 0 || !retry) || !tried && pass > 0 {
				continue
			}
			if pass == 0 && r.infra.isLame(zs.zone, a, now) {
				*lame++
				continue
			}
			out = append(out, a)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	bucket := func(a netip.Addr) time.Duration { return r.infra.score(a, now) / r.infra.bucketed }
	slices.SortStableFunc(out, func(a, b netip.Addr) int { return int(bucket(a) - bucket(b)) })
	return out
}

// try asks one server and judges its reply for zone: a usable reply, or an
// error saying why not (lame servers are remembered as such).
func (q *query) try(ctx context.Context, zone string, addr netip.Addr, name string, qtype uint16, minimised bool) (reply, error) {
	r := q.r
	resp, err := q.exchange(ctx, addr, name, qtype)
	if err != nil {
		if !fatal(err) {
			r.log.LogAttrs(ctx, slog.LevelDebug, "server failed", slog.String("zone", zone),
				slog.String("qname", name), slog.Any("err", err))
		}
		return reply{}, err
	}
	var why string
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeYXDomain:
		rep := classify(resp, zone, name, qtype)
		if rep.kind != kindLame {
			if !r.cfg.HardenGlue && len(rep.nsHosts) > 0 {
				rep.glue = glueFor(resp.Extra, ".", rep.nsHosts) // harden_glue: false
			}
			return rep, nil
		}
		why = rep.why
	case dns.RcodeRefused, dns.RcodeNotAuth:
		why = "answered " + rcodeString(resp.Rcode) // made here, not for every reply
	default:
		return reply{}, &serverError{addr, &rcodeError{resp.Rcode}}
	}
	if !minimised {
		r.markLame(ctx, zone, addr, why)
	}
	return reply{}, &serverError{addr, &lameError{why}}
}

// markLame remembers addr as lame for zone (and says so at debug level:
// lame delegations are common, and the zone owner's problem).
func (r *Resolver) markLame(ctx context.Context, zone string, addr netip.Addr, why string) {
	r.m.lameFound()
	r.infra.markLame(zone, addr, r.clock.Now())
	r.log.LogAttrs(ctx, slog.LevelDebug, "lame server", slog.String("zone", zone),
		slog.String("server", addr.String()), slog.String("why", why))
}
