package cache

import "sync"

// flights coalesces identical questions to the next step: the first miss
// for a key leads a flight, and misses for the same key while it is in the
// air wait for its result instead of asking again.
//
// It replaces x/sync/singleflight, whose DoChan starts a fresh goroutine
// per miss; ours run on the cache's worker pool, whose goroutines already
// have the stack a query needs.
type flights struct {
	mu    sync.Mutex
	calls map[key]*flight
}

// flight is one question in the air.
type flight struct {
	done chan struct{} // closed when res is set
	res  *result
	// shared is set when a second caller joins; final once done is closed,
	// since a finished flight is no longer in calls to be joined.
	shared bool
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

// finish gives res to fl's waiters; a miss for k after it starts a new
// flight.
func (f *flights) finish(k key, fl *flight, res *result) {
	fl.res = res
	f.mu.Lock()
	delete(f.calls, k)
	f.mu.Unlock()
	close(fl.done)
}
