package feeds

import (
	"context"
	"math/rand/v2"
	"time"
)

// runFeed starts the refresh loop of one list: wait until due (or a
// kick), refresh, and schedule the next attempt: the refresh interval
// with jitter after a success, an exponential backoff after a failure.
// Both count from the start of the attempt, so a slow download does not
// push every later refresh back by its own length; an attempt that took
// longer than the wait is followed by the next one at once.
func (m *Manager) runFeed(ctx context.Context, f *feed, due time.Time) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		failures := 0
		for m.sleep(ctx, f, due) {
			start := m.clock.Now()
			err := m.attempt(ctx, f, f.force.Swap(false))
			if ctx.Err() != nil {
				return
			}
			if f.current() != nil {
				f.settle()
			}
			var wait time.Duration
			if err == nil {
				failures = 0
				wait = jitter(f.spec.refresh)
			} else {
				failures++
				wait = m.backoff(failures, f.spec.refresh)
				m.log.Info("feed retry scheduled", "feed", f.spec.info.Name, "failures", failures, "in", wait.Round(time.Second))
			}
			if x, ok := f.spec.src.(*xfrSource); ok {
				if d, ok := x.nextCheck(err == nil); ok {
					wait = d // the zone's SOA refresh and retry timers
				}
			}
			due = start.Add(wait)
		}
	}()
}

// sleep waits until due by the Manager's clock, a kick, or ctx's end
// (false).
func (m *Manager) sleep(ctx context.Context, f *feed, due time.Time) bool {
	_, err := m.waitUntil(ctx, due, f.kick)
	return err == nil
}

// waitUntil waits until due by the Manager's clock (woken false), for ch
// (woken true), or for ctx's end (its error). It reads the clock at least
// every poll, so that a test's fake clock moves it.
func (m *Manager) waitUntil(ctx context.Context, due time.Time, ch <-chan struct{}) (woken bool, err error) {
	for {
		d := due.Sub(m.clock.Now())
		if d <= 0 {
			return false, ctx.Err()
		}
		t := time.NewTimer(min(d, m.poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-ch:
			t.Stop()
			return true, nil
		case <-t.C:
		}
	}
}

// maxRetry caps the backoff of a failing list.
const maxRetry = time.Hour

// backoff is the delay before retry n (1-based): feeds.retry doubling per
// failure, at most the refresh interval (and an hour), with jitter.
func (m *Manager) backoff(n int, refresh time.Duration) time.Duration {
	limit := min(refresh, maxRetry)
	d := m.cfg.Retry
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return jitter(min(d, limit))
}

// jitter spreads d by ±10%, so that a fleet restarted together does not
// poll a feed provider in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}
