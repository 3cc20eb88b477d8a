package dnstest

import "github.com/miekg/dns"

// Responder builds the reply to a query by hand, for misbehaviour the zone
// data cannot express (an upward referral with AA set, a reply holding only
// another type's record). zone is the reply the zones would give, already
// built; the Responder may return it, change it, or return nil to send
// nothing (a timeout).
type Responder func(query, zone *dns.Msg) *dns.Msg

// SetResponder makes every reply pass through fn (nil: the zones' answers
// as they are). EDNS, truncation and the other settings apply after it.
func (a *Authority) SetResponder(fn Responder) {
	if fn == nil {
		a.override.Store(nil)
		return
	}
	a.override.Store(&fn)
}

// respond is the zones' answer to r, through the Responder if one is set.
func (a *Authority) respond(r *dns.Msg) *dns.Msg {
	m := a.answer(r)
	if fn := a.override.Load(); fn != nil {
		return (*fn)(r, m)
	}
	return m
}
