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

// Queue is a burst of work of type T. The zero value is ready to use.
type Queue[T any] struct {
	mu      sync.Mutex
	pending []T
	spare   []T // the last burst, emptied, for reuse
	leading bool
}

// Add queues v and reports whether the caller leads the burst, and must
// then call Drain. A caller that does not lead may return at once: the
// leader handles v.
func (q *Queue[T]) Add(v T) (lead bool) {
	q.mu.Lock()
	q.pending = append(q.pending, v)
	lead = !q.leading
	q.leading = true
	q.mu.Unlock()
	return lead
}

// Drain, called by the leader, yields once and then hands do what was
// queued, burst after burst, until none is left; it returns once it has
// found the queue empty, so everything queued before it returns has been
// handed to do. do must not call Add on q, nor keep the slice.
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
