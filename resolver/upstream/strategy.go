package upstream

import (
	"math/rand/v2"
)

// strategy is a parsed Config.Strategy.
type strategy uint8

const (
	failover strategy = iota
	random
	fastest
	parallel
)

func parseStrategy(s string) strategy {
	switch s {
	case StrategyRandom:
		return random
	case StrategyFastest:
		return fastest
	case StrategyParallel:
		return parallel
	}
	return failover
}

// exploreOneIn: fastest and parallel ask another server first once in
// this many queries, so a server that was slow once is measured again.
const exploreOneIn = 20

// group is a list of servers and how to pick among them: the main list,
// a conditional domain's, or the bootstrap servers.
type group struct {
	servers  []*server
	weights  []int // random only, one per server; nil means equal
	strategy strategy
}

func newGroup(servers []*server, strat string, weights []int) *group {
	g := &group{servers: servers, strategy: parseStrategy(strat)}
	if g.strategy == random {
		g.weights = make([]int, len(servers))
		for i := range g.weights {
			g.weights[i] = 1
			if i < len(weights) {
				g.weights[i] = weights[i]
			}
		}
	}
	return g
}

// order appends g's servers to dst in the order to ask them: those up,
// by the strategy; only if none is up, all of them (a total outage is
// still tried, not refused). Down servers due a probe get one.
func (f *Forwarder) order(g *group, dst []*server) []*server {
	var wbuf [16]int
	ws := wbuf[:0]
	for i, s := range g.servers {
		if s.health.down.Load() {
			if s.health.probeDue(f.clock.Now(), f.cooldown) {
				f.startProbe(s)
			}
			continue
		}
		dst = append(dst, s)
		if g.weights != nil {
			ws = append(ws, g.weights[i])
		}
	}
	if len(dst) == 0 {
		dst = append(dst, g.servers...)
		ws = append(ws, g.weights...)
	}
	switch g.strategy {
	case random:
		weightedShuffle(dst, ws)
	case fastest:
		bySRTT(dst)
		if len(dst) > 1 && rand.IntN(exploreOneIn) == 0 {
			j := 1 + rand.IntN(len(dst)-1)
			s := dst[j]
			copy(dst[1:j+1], dst[:j]) // dst[j] to the front, the rest keep order
			dst[0] = s
		}
	case parallel:
		bySRTT(dst)
		if len(dst) > 2 && rand.IntN(exploreOneIn) == 0 {
			j := 2 + rand.IntN(len(dst)-2)
			dst[1], dst[j] = dst[j], dst[1] // race the best against another
		}
	}
	return dst
}

// weightedShuffle orders dst by repeated weighted draws without
// replacement; ws holds dst's weights and is reordered with it. Weight-0
// servers (backups) keep their order at the end.
func weightedShuffle(dst []*server, ws []int) {
	for i := 0; i < len(dst)-1; i++ {
		total := 0
		for _, w := range ws[i:] {
			total += w
		}
		if total <= 0 {
			return
		}
		r := rand.IntN(total)
		for j := i; j < len(dst); j++ {
			if r -= ws[j]; r < 0 {
				// Shift rather than swap, so the servers not drawn keep
				// their config order (backups stay in order).
				s, w := dst[j], ws[j]
				copy(dst[i+1:j+1], dst[i:j])
				copy(ws[i+1:j+1], ws[i:j])
				dst[i], ws[i] = s, w
				break
			}
		}
	}
}

// bySRTT sorts dst by smoothed RTT, unmeasured servers first (so each
// is measured) and ties in config order. Lists are short: insertion sort.
func bySRTT(dst []*server) {
	for i := 1; i < len(dst); i++ {
		s := dst[i]
		rtt := s.health.srtt.Load()
		j := i
		for j > 0 && dst[j-1].health.srtt.Load() > rtt {
			dst[j] = dst[j-1]
			j--
		}
		dst[j] = s
	}
}
