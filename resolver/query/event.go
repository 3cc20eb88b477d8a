package query

import (
	"net/netip"
	"time"
)

// Event is what an Observer learns about one query packet once it has
// been answered (or dropped). It is passed by value and built from facts
// the handler has anyway, so observing costs no allocation in the handler;
// an observer that keeps anything must copy it, because Query and Response
// point into buffers that are reused as soon as Observe returns.
type Event struct {
	// Received is when the packet was read; Duration is how long the
	// answer took.
	Received time.Time
	Duration time.Duration
	Client   netip.AddrPort
	Proto    Proto
	// Tenant is the name of the tenant whose policy answered; "" for the
	// default policy.
	Tenant string
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
	// Decision is the rule that answered, when one did (Table non-nil):
	// what dnstap's Policy message reports.
	Decision Decision
}

// Observer watches answered queries: the query log and dnstap. Observers
// see the pipeline's result; they never change an answer
// (docs/ARCHITECTURE.md). Observe runs on the query path, so it must not
// block: hand the event to a bounded queue and drop (and count) when the
// queue is full.
type Observer interface {
	Observe(ev Event)
}

// Observers combines observers into one, or returns nil when there are
// none, which is what the pipeline checks to skip observing entirely. Nil
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

func (m multiObserver) Observe(ev Event) {
	for _, o := range m {
		o.Observe(ev)
	}
}
