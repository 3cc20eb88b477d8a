package cache

import (
	"context"
	"sync"
	"time"
)

// flights coalesces identical questions to the next step: the first miss
// for a key leads a flight, and misses for the same key while it is in the
// air wait for its result instead of asking again.
//
// It replaces x/sync/singleflight, whose DoChan starts a fresh goroutine
// per miss; ours run on the leader's goroutine (leadsInline) or on the
// cache's worker pool, whose goroutines already have the stack a query
// needs.
type flights struct {
	mu    sync.Mutex
	calls map[key]*flight
}

// flight is one question in the air. It holds what its query gives and
// the context it runs under, so that a miss allocates the flight and its
// channel, not a result and a context.WithTimeout as well.
type flight struct {
	done chan struct{} // closed when res is set
	res  result
	// shared is set when a second caller joins; final once done is closed,
	// since a finished flight is no longer in calls to be joined.
	shared bool
	ctx    detached // the query's, set by whoever runs it
}

// detached is the context a flight's query runs under: the values of the
// context of the miss that started it, and the fetch's timeout as its
// deadline. On a worker (ends false) it has none of that context's
// cancellation: a client going away must not fail the answer the others
// wait for. Inline (ends true) the query ends with the leader's context,
// which leadsInline allowed only because its end abandons every waiter.
//
// Detached, it has no Done channel, and so no timer: context.WithTimeout
// per miss was five allocations, and its timer's trips through the
// runtime's heap 2.5% of a recursive miss's CPU. The deadline still bounds
// the query, because every next step bounds its waits by ctx.Deadline()
// itself: the forwarder's budget and per-try deadlines, the recursive
// resolver's q.deadline, the stream and DoH exchanges' own WithDeadline. A
// step that derived a later deadline from it and waited on that context's
// Done would not be cut at this one.
type detached struct {
	parent   context.Context
	deadline time.Time
	ends     bool // with parent's cancellation
}

func (d *detached) Deadline() (time.Time, bool) {
	if p, ok := d.parent.Deadline(); ok && d.ends && p.Before(d.deadline) {
		return p, true
	}
	return d.deadline, true
}

func (d *detached) Done() <-chan struct{} {
	if d.ends {
		return d.parent.Done()
	}
	return nil
}

func (d *detached) Err() error {
	if d.ends {
		return d.parent.Err()
	}
	return nil
}

// Value is the parent's: a client's cancellation does not show through a
// detached d, since context.Cause asks Err first and the contexts derived
// from d watch only Done.
func (d *detached) Value(key any) any { return d.parent.Value(key) }

// abandonsKey is the context key of Abandons.
type abandonsKey struct{}

// Abandons marks ctx as one that ends only when every query under it is
// abandoned at once (a listener's, which Server.Shutdown cancels once its
// grace is over), never for one client leaving. A miss whose ctx is so
// marked, or cannot end at all, leads its flight on its own goroutine
// rather than on the cache's workers: it could not return early and
// leave the others an answer that none of them still waits for, and the
// hand-off to a worker and back is two goroutine switches of every miss.
// A context derived from ctx with a cancellation of its own is not marked.
func Abandons(ctx context.Context) context.Context {
	return context.WithValue(ctx, abandonsKey{}, ctx.Done())
}

// leadsInline reports whether a miss under ctx runs its flight's query
// itself (see Abandons).
func leadsInline(ctx context.Context) bool {
	done := ctx.Done()
	if done == nil {
		return true
	}
	marked, _ := ctx.Value(abandonsKey{}).(<-chan struct{})
	return marked == done
}

// join returns the flight for k, and lead = true when the caller started
// it and must run it and call finish.
func (f *flights) join(k key) (fl *flight, lead bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.calls[k]; ok {
		fl.shared = true
		return fl, false
	}
	if f.calls == nil {
		f.calls = make(map[key]*flight)
	}
	fl = &flight{done: make(chan struct{})}
	f.calls[k] = fl
	return fl, true
}

// finish gives fl.res, set by the caller, to fl's waiters; a miss for k
// after it starts a new flight.
func (f *flights) finish(k key, fl *flight) {
	f.mu.Lock()
	delete(f.calls, k)
	f.mu.Unlock()
	close(fl.done)
}
