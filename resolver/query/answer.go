package query

import (
	"context"

	"github.com/miekg/dns"
)

// Answer is what a step below the cache answers with: a decoded message,
// or, from the forwarder, the upstream's reply in wire form as received —
// matched to the question, its shape checked, its OPT record removed — so
// that the cache stores those bytes as they are and decodes them once
// (docs/ARCHITECTURE.md, the miss path). Exactly one of the two is set.
type Answer struct {
	Msg  *dns.Msg
	Wire []byte
}

// AnswerResolver is a Resolver that can also answer in wire form. The
// cache asks its next step this way when it can; Resolve stays the
// answer for everyone else.
type AnswerResolver interface {
	Resolver
	ResolveAnswer(ctx context.Context, req *Request) (Answer, error)
}

// ResolveAnswer asks r for req's answer, in wire form if r can give one.
func ResolveAnswer(ctx context.Context, r Resolver, req *Request) (Answer, error) {
	if ar, ok := r.(AnswerResolver); ok {
		return ar.ResolveAnswer(ctx, req)
	}
	m, err := r.Resolve(ctx, req)
	return Answer{Msg: m}, err
}

// WireAnswer lets the cache hand its answer to the responder in wire form,
// as it stored it, instead of decoding it into a message the responder
// packs again (docs/ARCHITECTURE.md, the miss path). The responder sets
// Request.Wire with Buf, the buffer the answer goes to; the policy sets
// Check when its answer checks may be skipped for the answers Check
// passes (no CNAME target or address to decide: the fast path's
// question, ServesWire); the cache then appends such an answer to Buf —
// client's ID, RD and letter case, aged TTLs, no OPT — sets Served and
// returns a nil message. Any other answer is returned decoded, as
// without Wire. A step that passes a request of its own down (a
// sub-query) clears Wire: the answer is not the client's.
type WireAnswer struct {
	Check  interface{ ServesWire([]dns.RR) bool }
	Buf    []byte
	Served bool
}
