package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// errNoAnswer stands in for a next step that returned neither message nor error.
var errNoAnswer = errors.New("cache: next step returned no message")

// result is what one query to the next step gave, shared by its waiters.
type result struct {
	msg *dns.Msg // as the next step returned it; nil when e came from the store. Not to be modified
	e   *entry   // the entry made from msg; nil if msg is not cacheable
	// first is e's answer to the request refresh was given, decoded to
	// check e before storing it: the leader's to take, so that a miss
	// decodes the stored answer once, not twice.
	first *dns.Msg
	err   error
}

// failed reports whether serve-stale may stand in for this result.
func (r *result) failed() bool {
	if r.e != nil {
		return r.e.kind == kindServfail
	}
	return r.err != nil || r.msg.Rcode == dns.RcodeServerFailure
}

// answer is e's answer to req at now, or nil if e's body does not decode.
func (e *entry) answer(req *contract.Request, now int64, stale bool) *dns.Msg {
	if stale {
		return response(&e.meta, e.body, req, 0, true)
	}
	return response(&e.meta, e.body, req, e.age(now), false)
}

// fetch asks the next step on a miss. Identical questions in flight share
// one query, which runs detached from any one waiter's cancellation: a
// waiter whose ctx ends returns early and the others, and the cache, still
// get the answer. The leader asks on its own goroutine when its ctx cannot
// end without every waiter being abandoned too (leadsInline); otherwise it
// hands the query to the cache's workers, to be free to return early.
// stale, if not nil, is an expired entry that may answer if the query fails.
func (c *Cache) fetch(ctx context.Context, k key, req *contract.Request, stale *entry) (*dns.Msg, error) {
	fl, lead := c.flights.join(k)
	// Read here, on the caller's goroutine: the request is the caller's.
	wire := req.Wire != nil && req.Wire.Check != nil
	switch {
	case lead && leadsInline(ctx):
		c.lead(ctx, k, req, stale, wire, fl, true)
	case lead:
		c.workers.Go(func() { c.lead(ctx, k, req, stale, wire, fl, false) })
		fallthrough
	default:
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-fl.done:
		}
	}
	res := &fl.res
	now := c.clk.Now().UnixNano()
	if res.failed() && stale != nil && stale.staleUsable(now, c.cfg.StaleMax) {
		if serveWire(req, &stale.meta, stale.body, 0, true) {
			c.m.staleServed.Inc()
			return nil, nil
		}
		if m := stale.answer(req, now, true); m != nil {
			c.m.staleServed.Inc()
			return m, nil
		}
	}
	switch {
	case res.err != nil:
		return nil, res.err
	case res.e != nil:
		if lead && res.first != nil {
			return res.first, nil // decoded for req by refresh's check
		}
		if serveWire(req, &res.e.meta, res.e.body, res.e.age(now), false) {
			return nil, nil // the stored wire, not decoded at all
		}
		if m := res.e.answer(req, now, false); m != nil {
			return m, nil // each waiter its own copy
		}
		return servfail(req), nil // refresh checked that it decodes: not reached
	case fl.shared:
		return res.msg.Copy(), nil
	}
	return res.msg, nil
}

// lead runs fl's query for the miss that started it and gives its result
// to the waiters. inline says it runs on that miss's goroutine, whose ctx
// the query then ends with (leadsInline); on a worker it runs detached.
func (c *Cache) lead(ctx context.Context, k key, req *contract.Request, stale *entry, wire bool, fl *flight, inline bool) {
	// A flight that ended between our lookup and join has stored
	// its answer: use it rather than ask again.
	if e := c.store.get(k); e != nil && !e.expired(c.clk.Now().UnixNano()) {
		fl.res = result{e: e}
	} else {
		fl.ctx = detached{parent: ctx, deadline: time.Now().Add(fetchTimeout), ends: inline}
		fl.res = c.refresh(&fl.ctx, k, req, stale, wire)
	}
	c.flights.finish(k, fl)
}

// refresh queries the next step and stores what may be cached. A failure
// never replaces an entry that can still be served stale, and starts the
// RFC 8767 failure recheck timer on an expired one. wire says the request
// may take its answer in wire form: then an answer the cheap check
// (decodes) passes is stored without being decoded, and goes to the
// client as stored; any other is decoded once, here, as before.
func (c *Cache) refresh(ctx context.Context, k key, req *contract.Request, old *entry, wire bool) result {
	ans, err := contract.ResolveAnswer(ctx, c.next, req)
	if err == nil && ans.Msg == nil && ans.Wire == nil {
		err = errNoAnswer
	}
	now := c.clk.Now()
	res := result{msg: ans.Msg, err: err}
	if err != nil {
		c.log.Debug("cache: next step failed", "qname", req.Question.Name,
			"qtype", dns.Type(req.Question.Qtype).String(), "err", err)
		c.settle(k, &res, old, now)
		return res
	}
	var e *entry
	if ans.Wire != nil {
		e = c.wireEntry(k, ans.Wire, nil, now) // stored as received
	} else {
		e = c.newEntry(k, ans.Msg, now)
	}
	switch {
	case e == nil:
	case wire && !e.ede && !e.alias && decodes(bodyWire(e.body)):
		res.e = e // served from the wire (fetch): decoded only by a hit that needs fields
	default:
		// The one decoding of a miss: req's answer from what is stored.
		if res.first = e.answer(req, now.UnixNano(), false); res.first != nil {
			res.e = e // stored only once it is known to decode
		}
	}
	if res.e == nil && ans.Wire != nil {
		res.msg, res.err = decodeWire(ans.Wire, req)
	}
	c.settle(k, &res, old, now)
	return res
}

// decodeWire decodes an answer in wire form that is not stored: it is
// then decoded here, once. One that does not decode fails the query.
func decodeWire(wire []byte, req *contract.Request) (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		return nil, fmt.Errorf("cache: the answer for %q from the next step does not decode: %w", req.Question.Name, err)
	}
	return m, nil
}

// settle stores what refresh got, or keeps old for serve-stale.
func (c *Cache) settle(k key, res *result, old *entry, now time.Time) {
	if res.failed() && old != nil {
		if old.expired(now.UnixNano()) {
			retry := now.Add(staleRetry).UnixNano()
			c.store.update(k, old.gen, func(s *slot) { s.retryAt = retry })
		}
		return
	}
	if res.e != nil {
		c.put(k, res.e)
	}
}
