package cache

import (
	"context"
	"net/netip"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// prefetch refreshes a popular entry, whose metadata m is, in the
// background shortly before it expires, so that its clients never see a
// miss. touch has decided it is due (one per entry); at most maxBackground
// run at a time, the rest are skipped.
func (c *Cache) prefetch(m meta, k key, req *contract.Request) {
	if !c.startBackground() {
		// try again on a later hit
		c.store.update(k, m.gen, func(s *slot) { s.prefetching = false })
		return
	}
	c.m.prefetches.Inc()
	preq := prefetchRequest(req, k)
	old := &entry{meta: m}
	c.workers.Go(func() {
		defer c.doneBackground()
		// Leads the flight for the key, so that a miss for it meanwhile
		// (none while the entry is fresh) waits for this answer; if one is
		// already in the air, that answer will refresh the entry.
		fl, lead := c.flights.join(k)
		if !lead {
			return
		}
		ctx, cancel := context.WithTimeout(c.bg, fetchTimeout)
		defer cancel()
		fl.res = c.refresh(ctx, k, preq, old, false)
		c.flights.finish(k, fl)
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
