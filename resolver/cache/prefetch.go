package cache

import (
	"context"
	"net/netip"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// maybePrefetch refreshes a popular entry in the background shortly before
// it expires, so that its clients never see a miss. One prefetch per entry;
// at most maxBackground at a time, the rest skipped.
func (c *Cache) maybePrefetch(e *entry, k key, req *contract.Request, now time.Time) {
	if e.kind == kindServfail {
		return
	}
	// Count only up to the threshold: past it, a read keeps the hot line shared.
	if e.hits.Load() < prefetchHits && e.hits.Add(1) < prefetchHits {
		return
	}
	left := e.life - now.Sub(e.stored)
	if left*prefetchWindow > e.life || e.prefetching.Load() || !e.prefetching.CompareAndSwap(false, true) {
		return
	}
	if !c.startBackground() {
		e.prefetching.Store(false) // try again on a later hit
		return
	}
	c.m.prefetch()
	preq := prefetchRequest(req, k)
	c.workers.Go(func() {
		defer c.doneBackground()
		// Leads the flight for the key, so that a miss for it meanwhile
		// (none while e is fresh) waits for this answer; if one is already
		// in the air, that answer will refresh e.
		fl, lead := c.flights.join(k)
		if !lead {
			return
		}
		ctx, cancel := context.WithTimeout(c.bg, fetchTimeout)
		defer cancel()
		c.flights.finish(k, fl, c.refresh(ctx, k, preq, e))
	})
}

// prefetchRequest builds a request of its own for the background query: the
// client's may be recycled by the listener once it is answered, and the
// query is the cache's, not the client's.
func prefetchRequest(req *contract.Request, k key) *contract.Request {
	m := new(dns.Msg)
	m.SetQuestion(req.Question.Name, req.Question.Qtype)
	m.Question[0].Qclass = req.Question.Qclass
	m.CheckingDisabled = k.flags&flagCD != 0
	if k.flags&flagDO != 0 {
		m.SetEdns0(dns.DefaultMsgSize, true)
	}
	return contract.NewRequest(m, netip.AddrPort{}, req.Proto) // no client: the cache asks

}

// startBackground reserves a background slot unless closed or full.
func (c *Cache) startBackground() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	select {
	case c.sem <- struct{}{}:
		c.wg.Add(1)
		return true
	default:
		return false
	}
}

func (c *Cache) doneBackground() {
	<-c.sem
	c.wg.Done()
}
