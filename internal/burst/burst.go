// Package burst hands the work that goroutines woken together queue to
// one of them, to do all at once.
//
// On a processor shared with the peers it sends to (loopback, a client or
// an authoritative server on the same host), every datagram that finds
// its receiver asleep pays for waking it, and that wake-up was most of a
// send's cost. The goroutines one UDP read batch makes runnable reach
// their sends one after another, each after its own work, so the receiver
// had gone back to sleep between two of them. Queued here, the sends of a
// burst leave back to back, and a receiver woken by the first finds the
// rest already queued; where a batch call exists, the burst pays one
// system call.
//
// The first goroutine to find a Queue idle leads: it yields once, which
// puts it behind every goroutine already runnable (runtime.Gosched puts
// it on the global run queue, which the scheduler takes from once the
// processor's local queue is empty, or every 61st round), so that those
// of the same burst queue theirs meanwhile, and then handles everything
// queued until none is left. Alone, it resumes at once. A goroutine of
// the queue's own would cost a start or a wake-up and a hand-off per
// burst, which a lone sender pays in full.
package burst

import (
	"runtime"
	"sync"
)

// Queue is a burst of work of type T. The zero value is ready to use,
// with no bound on a burst.
type Queue[T any] struct {
	// Max, when above zero, bounds how much work waits for a yielding
	// leader: the call that queues the Max-th item hands it all on at
	// once (Flush), so that the first item of a burst waits for at most
	// Max-1 others' work, not for everything runnable on a loaded
	// processor, where the leader may yield for a long while.
	Max int

	mu      sync.Mutex
	pending []T
	spare   []T // the last burst, emptied, for reuse
	leading bool
}

// Add queues v and says what the caller must do: lead, call Drain; full
// (the burst reached Max while its leader yields), call Flush. Otherwise
// it may return at once: a leader handles v.
func (q *Queue[T]) Add(v T) (lead, full bool) {
	q.mu.Lock()
	q.pending = append(q.pending, v)
	lead = !q.leading
	q.leading = true
	full = !lead && q.Max > 0 && len(q.pending) >= q.Max
	q.mu.Unlock()
	return lead, full
}

// Flush hands do what is queued now, without yielding; the leader still
// drains what comes after. do may run on the leader and a flusher at
// once: it must be safe for that.
func (q *Queue[T]) Flush(do func([]T)) {
	q.mu.Lock()
	b := q.pending
	q.pending = nil // the spare is the leader's
	q.mu.Unlock()
	if len(b) > 0 {
		do(b)
	}
}

// Drain, called by the leader, yields once and then hands do what was
// queued, burst after burst, until none is left; it returns once it has
// found the queue empty, so everything queued before it returns has been
// handed to its do or to a flusher's (which may still be at it). do must
// not call Add on q, nor keep the slice.
func (q *Queue[T]) Drain(do func([]T)) {
	runtime.Gosched() // let the rest of the burst queue theirs
	for {
		q.mu.Lock()
		b := q.pending
		if len(b) == 0 {
			q.leading = false
			q.mu.Unlock()
			return
		}
		q.pending, q.spare = q.spare, nil
		q.mu.Unlock()
		do(b)
		clear(b) // drop the references: the items are handled
		q.mu.Lock()
		q.spare = b[:0]
		q.mu.Unlock()
	}
}

// Idle reports whether nothing is queued and no leader is draining.
func (q *Queue[T]) Idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.leading && len(q.pending) == 0
}
