// Package gopool runs short tasks on reused goroutines.
//
// A goroutine starts with a small stack and grows it by copying as calls
// get deeper. The query path (unpack, chain, forward, pack) is deep enough
// that every fresh goroutine grew its stack several times: on a cache miss
// under load that copying cost more CPU than the forwarding. A worker that
// has answered one query already has the stack the next one needs.
package gopool

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultIdle is how long a worker waits for a task before it exits: long
// enough to carry a steady query rate, short enough that a burst's
// goroutines do not linger.
const DefaultIdle = 10 * time.Second

// Pool hands tasks to idle workers and starts a worker when none is idle.
// It does not bound concurrency (callers do: the server's in-flight limit,
// the cache's coalescing) and needs no closing: idle workers exit on their
// own, or at once after Close. The zero value is not usable; call New.
//
// An idle worker waits on the task channel alone. It used to select on an
// idle timer and a quit channel too, and with timers that are in the
// runtime's heap only while something waits on them (Go 1.23), every wait
// added the timer to the heap and took it out again: the pool's select was
// 6% of a recursive cache miss's CPU (bench/recursive, 2026-12-03). One
// janitor goroutine per pool retires idle workers instead, by handing them
// a nil task.
type Pool struct {
	work  chan func() // a nil task makes the worker that takes it exit
	quit  chan struct{}
	close sync.Once
	idle  time.Duration
	wg    sync.WaitGroup

	closed    atomic.Bool
	janitorOn atomic.Bool  // a janitor runs (or is about to)
	workers   atomic.Int64 // live workers
	waiting   atomic.Int64 // workers parked on work
	// fewest is the least number of workers waiting at once since the
	// janitor's last round: that many stayed idle the whole round.
	fewest atomic.Int64

	started atomic.Int64 // workers ever started, for tests
}

// New returns a pool whose workers exit after idle to 2*idle without a
// task (DefaultIdle when idle <= 0).
func New(idle time.Duration) *Pool {
	if idle <= 0 {
		idle = DefaultIdle
	}
	return &Pool{work: make(chan func()), quit: make(chan struct{}), idle: idle}
}

// Go runs f on an idle worker, or on a new one when all are busy. It never
// blocks. f must not be nil.
func (p *Pool) Go(f func()) {
	select {
	case p.work <- f:
	default:
		p.wg.Add(1)
		p.started.Add(1)
		p.workers.Add(1)
		if !p.closed.Load() && p.janitorOn.CompareAndSwap(false, true) {
			p.wg.Add(1)
			go p.janitor()
		}
		go p.worker(f)
	}
}

// worker runs f, then every task handed to it, until it is handed nil (by
// the janitor: it was idle for a whole round, or the pool was closed) or
// finds the pool closed after a task.
func (p *Pool) worker(f func()) {
	defer p.wg.Done()
	defer p.workers.Add(-1)
	for f != nil {
		f()
		if p.closed.Load() {
			return
		}
		p.waiting.Add(1)
		if p.closed.Load() { // Close came since the check: retireAll may have seen no waiter
			p.waiting.Add(-1)
			return
		}
		f = <-p.work
		if n := p.waiting.Add(-1); n < p.fewest.Load() {
			p.fewest.Store(n) // racy with the janitor's reset: a round may retire one worker less
		}
	}
}

// janitor retires, every p.idle, as many idle workers as stayed idle for
// the whole round before, so that an idle worker exits between p.idle and
// 2*p.idle after its last task; it exits itself once no worker is left,
// and after Close retires every idle worker at once.
func (p *Pool) janitor() {
	defer p.wg.Done()
	t := time.NewTicker(p.idle)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for n := p.fewest.Load(); n > 0 && p.retireOne(); n-- {
			}
			p.fewest.Store(p.waiting.Load())
		case <-p.quit:
			p.retireAll()
			p.janitorOn.Store(false)
			return
		}
		if p.workers.Load() > 0 {
			continue
		}
		p.janitorOn.Store(false)
		// A worker started since the check found the flag still set and
		// left the janitor to us: carry on for it.
		if p.workers.Load() == 0 || !p.janitorOn.CompareAndSwap(false, true) {
			return
		}
	}
}

// retireOne hands nil to a worker waiting for a task, if one is.
func (p *Pool) retireOne() bool {
	select {
	case p.work <- nil:
		return true
	default:
		return false
	}
}

// retireAll, once the pool is closed, ends every waiting worker by
// handing it nil; the busy ones see the pool closed when their task
// returns, and so does one that counted itself waiting after Close. One
// counted but not yet at its receive is caught by the next try.
func (p *Pool) retireAll() {
	for {
		for p.retireOne() {
		}
		if p.waiting.Load() == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Close makes idle workers exit now rather than after the idle time; busy
// ones exit when their task returns. Go still works after Close, each
// task on a goroutine of its own.
func (p *Pool) Close() {
	p.close.Do(func() {
		p.closed.Store(true)
		close(p.quit)
	})
}
