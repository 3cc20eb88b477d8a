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
type Pool struct {
	work    chan func()
	quit    chan struct{}
	close   sync.Once
	idle    time.Duration
	wg      sync.WaitGroup
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
// blocks.
func (p *Pool) Go(f func()) {
	select {
	case p.work <- f:
	default:
		p.wg.Add(1)
		p.started.Add(1)
		go p.worker(f)
	}
}

// worker runs f, then every task handed to it, until it has been idle for
// p.idle or the pool is closed.
//
// The idle timer is not reset per task: at tens of thousands of tasks a
// second that reset (a timer-heap update under the timer's lock) was a
// few per cent of a cache miss's CPU. It runs for p.idle, and when it
// fires a worker that ran a task since carries on for another period, so
// an idle worker exits between p.idle and 2*p.idle after its last task.
func (p *Pool) worker(f func()) {
	defer p.wg.Done()
	f()
	t := time.NewTimer(p.idle)
	defer t.Stop()
	worked := false
	for {
		select {
		case f = <-p.work:
			f()
			worked = true
		case <-t.C:
			if !worked {
				return
			}
			worked = false
			t.Reset(p.idle)
		case <-p.quit:
			return
		}
	}
}

// Close makes idle workers exit now rather than after the idle time; busy
// ones exit when their task returns. Go still works after Close, each
// task on a goroutine of its own.
func (p *Pool) Close() { p.close.Do(func() { close(p.quit) }) }
