package upstream

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// srttShift makes the smoothed RTT move 1/8 of the way to each sample, as
// TCP's does (RFC 6298): steady against one slow answer, current within a
// few dozen queries.
const srttShift = 3

// probeQuestion is what a probe asks: the root NS set, which every
// resolver can answer, from cache, at once.
var probeQuestion = dns.Question{Name: ".", Qtype: dns.TypeNS, Qclass: dns.ClassINET}

// health is one upstream's state: its smoothed RTT and its circuit
// breaker. A server is down (no queries) after Config.Health.Failures
// consecutive transport failures; after the cool-down one probe asks it,
// and an answer brings it back. Any answer to a client query does too.
type health struct {
	srtt  atomic.Int64 // nanoseconds; 0 before the first sample
	fails atomic.Int32 // consecutive transport failures
	down  atomic.Bool

	mu      sync.Mutex
	downAt  time.Time // when the breaker opened, or the last probe failed
	probing bool
}

// sample folds one RTT into the smoothed RTT and returns it.
func (h *health) sample(d time.Duration) time.Duration {
	for {
		old := h.srtt.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)>>srttShift
		}
		next = max(next, 1)
		if h.srtt.CompareAndSwap(old, next) {
			return time.Duration(next)
		}
	}
}

// failed counts a transport failure; it reports whether this one opened
// the breaker.
func (h *health) failed(threshold int, now time.Time) (opened bool, n int) {
	n = int(h.fails.Add(1))
	if n < threshold || h.down.Load() {
		return false, n
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down.Load() {
		return false, n
	}
	h.down.Store(true)
	h.downAt = now
	return true, n
}

// answered resets the failure count; it reports whether the server was
// down and is now back.
func (h *health) answered() (recovered bool) {
	if h.fails.Load() != 0 {
		h.fails.Store(0)
	}
	if !h.down.Load() {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() {
		return false
	}
	h.down.Store(false)
	h.fails.Store(0)
	return true
}

// probeDue reports whether a down server's cool-down is over and no probe
// is out; it claims the probe if so.
func (h *health) probeDue(now time.Time, cooldown time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down.Load() || h.probing || now.Sub(h.downAt) < cooldown {
		return false
	}
	h.probing = true
	return true
}

// probed records a probe's outcome: alive brings the server back, dead
// starts another cool-down. It reports whether the server came back.
func (h *health) probed(alive bool, now time.Time) (recovered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	if !alive {
		h.downAt = now
		return false
	}
	recovered = h.down.Load()
	h.down.Store(false)
	h.fails.Store(0)
	return recovered
}

// abandonProbe releases the probe claim without a verdict.
func (h *health) abandonProbe() {
	h.mu.Lock()
	h.probing = false
	h.mu.Unlock()
}

// record counts one exchange with s in its metrics and its health.
func (f *Forwarder) record(s *server, res result, rtt time.Duration, err error) {
	if res == resCanceled {
		return // the client left: says nothing about the server
	}
	s.m.observe(res, rtt)
	if res != resSuccess && res != resTruncated {
		rtt = max(rtt, f.tryTimeout) // failing is slow, however fast it failed
	}
	s.m.setSRTT(s.health.sample(rtt))
	if res.transportFailure() {
		if opened, n := s.health.failed(f.failures, f.clock.Now()); opened {
			s.m.setHealthy(false)
			f.log.LogAttrs(context.Background(), slog.LevelWarn, "upstream marked down; probing it after the cool-down",
				slog.String("upstream", s.name), slog.Int("failures", n), slog.Duration("cooldown", f.cooldown), slog.Any("error", err))
		}
		return
	}
	if s.health.answered() {
		s.m.setHealthy(true)
		f.log.LogAttrs(context.Background(), slog.LevelInfo, "upstream answering again", slog.String("upstream", s.name))
	}
}

// startProbe asks a down server the probe question in the background.
func (f *Forwarder) startProbe(s *server) {
	started := f.background(func() {
		b := f.bufs.Get().(*buffers)
		defer f.bufs.Put(b)
		q, err := packQuery(b.query[:], probeQuestion, true, false, false, netip.Prefix{})
		if err != nil { // a constant question: cannot happen
			s.health.abandonProbe()
			return
		}
		// f.ctx only cancels (Close); the deadline is the attempt's own, so
		// that running out of time reads as a timeout, not a cancellation.
		ctx := f.ctx
		_, res, err := f.attempt(ctx, s, &q, b, time.Now().Add(f.tryTimeout), true)
		if res == resCanceled {
			s.health.abandonProbe() // closing: no verdict
			return
		}
		alive := !res.transportFailure()
		s.m.probe(alive)
		if s.health.probed(alive, f.clock.Now()) {
			s.m.setHealthy(true)
			f.log.LogAttrs(ctx, slog.LevelInfo, "upstream back after a successful probe", slog.String("upstream", s.name))
			return
		}
		if !alive {
			f.log.LogAttrs(ctx, slog.LevelDebug, "upstream probe failed", slog.String("upstream", s.name), slog.Any("error", err))
		}
	})
	if !started {
		s.health.abandonProbe()
	}
}
