package recursive

import (
	"net/netip"
	"time"
)

// rtoLimits shape the per-try timeout (RTO) of a server, computed from its
// smoothed RTT as TCP does (RFC 6298) and doubled on every timeout.
type rtoLimits struct {
	initial time.Duration // a server never heard from
	min     time.Duration // floor: loopback-fast servers still get a fair wait
	max     time.Duration // ceiling of the backoff
}

var defaultRTO = rtoLimits{initial: 400 * time.Millisecond, min: 100 * time.Millisecond, max: 2 * time.Second}

// serverInfo is what the resolver knows of one authoritative server address.
type serverInfo struct {
	srtt, rttvar time.Duration
	rto          time.Duration
	measured     bool // srtt holds at least one sample
	timeouts     int  // consecutive
	noEDNS       bool // answered FORMERR to EDNS: ask it without
	updated      time.Time
}

// lameKey is a server found lame for one zone: the same address may serve
// other zones well.
type lameKey struct {
	zone string
	addr netip.Addr
}

// infra is the infrastructure cache: per-server RTT, backoff and EDNS
// support, and per-zone lameness, each forgotten after its TTL.
type infra struct {
	servers  *lru[netip.Addr, serverInfo]
	lame     *lru[lameKey, time.Time] // -> until
	ttl      time.Duration
	lameTTL  time.Duration
	rto      rtoLimits
	bucketed time.Duration // scores closer than this are ties, broken at random
}

func newInfra(size int, ttl, lameTTL time.Duration, rto rtoLimits) *infra {
	return &infra{
		servers:  newLRU[netip.Addr, serverInfo](size),
		lame:     newLRU[lameKey, time.Time](size),
		ttl:      ttl,
		lameTTL:  lameTTL,
		rto:      rto,
		bucketed: 25 * time.Millisecond,
	}
}

// info returns what is known of addr, or a fresh record with the initial
// RTO when nothing (fresh) is.
func (in *infra) info(addr netip.Addr, now time.Time) serverInfo {
	si, ok := in.servers.get(addr)
	if !ok || now.Sub(si.updated) >= in.ttl {
		return serverInfo{rto: in.rto.initial}
	}
	return si
}

// timeout is the per-try timeout for addr.
func (in *infra) timeout(addr netip.Addr, now time.Time) time.Duration {
	return in.info(addr, now).rto
}

// score orders servers for selection: lower is better. Servers that timed
// out rank by their backed-off RTO, measured ones by smoothed RTT. Unknown
// ones rank first, as in BIND: each is tried once and measured, so a fast
// server is found even when a slow one answered first.
func (in *infra) score(addr netip.Addr, now time.Time) time.Duration {
	si := in.info(addr, now)
	switch {
	case si.timeouts > 0:
		return si.rto
	case si.measured:
		return si.srtt
	}
	return 0
}

// observeRTT records a reply after rtt: the RFC 6298 smoothing, and an
// end to any backoff.
func (in *infra) observeRTT(addr netip.Addr, rtt time.Duration, now time.Time) {
	in.update(addr, now, func(si *serverInfo) {
		if !si.measured {
			si.srtt, si.rttvar, si.measured = rtt, rtt/2, true
		} else {
			d := si.srtt - rtt
			if d < 0 {
				d = -d
			}
			si.rttvar = (3*si.rttvar + d) / 4
			si.srtt = (7*si.srtt + rtt) / 8
		}
		si.timeouts = 0
		si.rto = min(max(si.srtt+4*si.rttvar, in.rto.min), in.rto.max)
	})
}

// observeTimeout doubles addr's RTO (up to the maximum): the next try
// waits longer, and the server ranks behind those that answer.
func (in *infra) observeTimeout(addr netip.Addr, now time.Time) {
	in.update(addr, now, func(si *serverInfo) {
		si.timeouts++
		si.rto = min(2*si.rto, in.rto.max)
	})
}

// setNoEDNS remembers that addr rejects EDNS.
func (in *infra) setNoEDNS(addr netip.Addr, now time.Time) {
	in.update(addr, now, func(si *serverInfo) { si.noEDNS = true })
}

func (in *infra) update(addr netip.Addr, now time.Time, f func(*serverInfo)) {
	in.servers.update(addr, func(si serverInfo, ok bool) serverInfo {
		if !ok || now.Sub(si.updated) >= in.ttl {
			si = serverInfo{rto: in.rto.initial}
		}
		f(&si)
		si.updated = now
		return si
	})
}

// markLame remembers that addr is lame for zone, for the lame TTL.
func (in *infra) markLame(zone string, addr netip.Addr, now time.Time) {
	in.lame.put(lameKey{zone, addr}, now.Add(in.lameTTL))
}

// isLame reports whether addr was found lame for zone recently.
func (in *infra) isLame(zone string, addr netip.Addr, now time.Time) bool {
	until, ok := in.lame.get(lameKey{zone, addr})
	return ok && now.Before(until)
}
