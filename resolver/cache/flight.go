package cache

import "sync"

// flights coalesces identical questions to the next step: the first miss
// for a key leads a flight, and misses for the same key while it is in the
// air wait for its result instead of asking again.
//
// It replaces x/sync/singleflight, whose DoChan starts a fresh goroutine
// per miss: a flight runs on the goroutine of the miss that leads it (a
// listener's worker, which already has the stack a query needs), and a
// prefetch's on the cache's worker pool.
type flights struct {
	mu    sync.Mutex
	calls map[key]*flight
}

// flight is one question in the air.
type flight struct {
	// done is closed when res is set. The leader never waits on it, so
	// it is made by the first caller that joins, under flights.mu: most
	// misses are not coalesced and need no channel.
	done chan struct{}
	res  *result
	// shared is set when a second caller joins; final once finish has
	// run, since a finished flight is no longer in calls to be joined.
	shared bool
}

// join returns the flight for k, and lead = true when the caller started
// it and must run it and call finish. A caller that does not lead waits
// for done, which is closed once fl.res is set.
func (f *flights) join(k key) (fl *flight, done <-chan struct{}, lead bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.calls[k]; ok {
		if !fl.shared {
			fl.shared, fl.done = true, make(chan struct{})
		}
		return fl, fl.done, false
	}
	if f.calls == nil {
		f.calls = make(map[key]*flight)
	}
	fl = &flight{}
	f.calls[k] = fl
	return fl, nil, true
}

// finish gives res to fl's waiters; a miss for k after it starts a new
// flight.
func (f *flights) finish(k key, fl *flight, res *result) {
	fl.res = res
	f.mu.Lock()
	delete(f.calls, k)
	done := fl.done
	f.mu.Unlock()
	if done != nil {
		close(done)
	}
}
