package resolver

import (
	"net/netip"
	"time"
)

// QueryEvent is what an Observer learns about one query packet once it has
// been answered (or dropped). It is passed by value and built from facts
// the handler has anyway, so observing costs no allocation in the handler;
// an observer that keeps anything must copy it, because Query and Response
// point into buffers that are reused as soon as Observe returns.
type QueryEvent struct {
	// Received is when the packet was read; Duration is how long the
	// answer took.
	Received time.Time
	Duration time.Duration
	Client   netip.AddrPort
	Proto    Proto
	// Query is the packet as received; Response is the answer as sent, or
	// nil when nothing was sent (drop action, overload, junk).
	Query    []byte
	Response []byte
	// QName and QType are the question as asked ("" and 0 when the
	// packet did not parse as a query).
	QName string
	QType uint16
	// Rcode is the answer's rcode, -1 when nothing was sent.
	Rcode int
	// Answers is the number of records in the answer section sent.
	Answers int
}

// Observer watches answered queries: the query log and dnstap. Observers
// see the chain's result; they never change an answer (DESIGN.md). Observe
// runs on the query path, so it must not block: hand the event to a
// bounded queue and drop (and count) when the queue is full.
type Observer interface {
	Observe(ev QueryEvent)
}

// Observers combines observers into one, or returns nil when there are
// none, which is what a Server checks to skip observing entirely. Nil
// entries are skipped; pass a nil interface, not a typed nil pointer, for
// an observer that is off.
func Observers(obs ...Observer) Observer {
	var out multiObserver
	for _, o := range obs {
		if o != nil {
			out = append(out, o)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

type multiObserver []Observer

func (m multiObserver) Observe(ev QueryEvent) {
	for _, o := range m {
		o.Observe(ev)
	}
}

// observerBox lets an Observer interface value sit behind an atomic
// pointer.
type observerBox struct{ o Observer }

// SetObserver installs o (nil: none) for the queries answered from now on.
// It is safe to call while serving, e.g. on a config reload. Queries
// answered by the UDP fast path reach o too.
func (s *Server) SetObserver(o Observer) {
	if o == nil {
		s.h.observer.Store(nil)
		return
	}
	s.h.observer.Store(&observerBox{o})
}
