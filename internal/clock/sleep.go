package clock

import (
	"context"
	"time"
)

// Sleep waits d of real time, or until ctx is done (then its error).
// Retry pauses use it: they wait for a remote server, whose clock is real
// whatever a test does to ours.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
