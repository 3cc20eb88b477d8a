// Package udpsock is the socket of one upstream UDP exchange and the
// poll its reply is waited for in, shared by the forwarder
// (resolver/upstream) and the recursive resolver (resolver/recursive):
// a fresh kernel-chosen source port per query (RFC 5452 §9.2) on a
// connected socket, made and used with raw system calls, and one epoll
// set per Poll in which every exchange waits, in place of a net.UDPConn
// handed to the runtime's poller per query (docs/ARCHITECTURE.md, "The
// recursive resolver's upstream sockets").
//
// The socket (Sock) and the set its replies are waited for in (pollSet)
// are the OS's: raw system calls and an epoll set on Linux
// (sock_linux.go), a net.UDPConn whose reads a goroutine queues elsewhere
// (sock_portable.go, also built on Linux with the bulwark_portable tag,
// so that it is tested there). What is decided from them — when an
// exchange is woken, its deadline and context, when the reaper exits — is
// decided here once.
//
// Each has:
//
//	Dial(ap) (Sock, error)                a socket connected to ap
//	Sock.Write(b) error                   send one datagram
//	Sock.Read(b) (n, wouldBlock, err)     one queued datagram, or none
//	Sock.Close()
//	Sock.id() int                         part of its key in a Poll
//	openPollSet() (*pollSet, error)
//	pollSet.add(p, sock, key) error       wake key once sock has a datagram
//	pollSet.rearm(sock, key) error        once more
//	pollSet.setDeadline(t)                when wait returns os.ErrDeadlineExceeded
//	pollSet.wait() ([]uint64, error)      the keys of sockets ready
//	pollSet.close()
package udpsock

import (
	"cmp"
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// bufSize is the portable socket's read buffer: as large as the
// exchanges' own (a reply filling it was cut, as the kernel would cut it).
const bufSize = 4096

// readyChans recycles the wake-up channels of Waits: Disarm drains
// one before it goes back, and no reaper sends on it once disarmed.
var readyChans = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// replyIdle is how long the reaper of a Poll outlives its last
// waiter: long enough to carry a steady query rate, short enough that a
// Resolver replaced by a reload leaves nothing behind for long.
const replyIdle = 10 * time.Second

// replyTick is how often the reaper looks at the contexts of exchanges
// whose context can end (Done not nil): one learns of its cancellation up
// to one tick late, a few per cent of the shortest RTO (100 ms). Their
// deadlines, and those of exchanges whose context cannot end (a cache
// flight's, the usual case), are swept when the earliest is due, not
// every tick: a sweep every 5 ms while any exchange waited woke the
// process 200 times a second at any miss rate, 0.2 of its 2.1 context
// switches per forwarded miss at 1,000 misses a second.
const replyTick = 5 * time.Millisecond

// Poll waits for the replies of all UDP exchanges of its owner (a
// Forwarder, a recursive Resolver) in
// one pollSet of its own (on Linux an epoll set, which the runtime's
// poller waits on as on any other descriptor), and one reaper goroutine
// wakes each exchange whose socket has something to read, or whose
// deadline has passed or context ended. Per exchange
// that costs one epoll_ctl (one-shot; closing the socket removes it), where
// handing each fresh socket to the runtime's poller costs an fcntl, an
// EPOLL_CTL_ADD and an EPOLL_CTL_DEL, plus a read(2) tried before the reply
// is there (docs/ARCHITECTURE.md, "The recursive resolver's upstream
// sockets"). The deadlines and contexts are the reaper's too, swept when
// the earliest deadline is due (see replyTick), so that an exchange waits
// on its channel alone: a timer
// waited on in a select goes into the runtime's timer heap and out again
// on every wait, and the select itself (locking every channel in it) was
// a few per cent of a cache miss's CPU.
// The zero value is ready to use; the reaper starts with the first
// exchange and exits after replyIdle without one.
type Poll struct {
	// Idle is how long the reaper outlives its last waiter: replyIdle
	// when zero; tests shorten it.
	Idle    time.Duration
	mu      sync.Mutex
	set     *pollSet // nil while no reaper runs
	gen     uint32
	waiters map[uint64]waiter // by key: gen<<32 | sock.id()
	// ticking: the set's deadline is the next sweep, at next (waiters
	// came since the reaper last found none), not the idle exit.
	ticking bool
	next    time.Time
}

// waiter is what the reaper knows of one exchange.
type waiter struct {
	ready    chan struct{}
	deadline time.Time
	ctx      context.Context
}

// Wait is one exchange's registration in a Poll.
type Wait struct {
	key uint64
	// Ready is sent on once the socket has a datagram or an error to
	// read, the deadline has passed or the context has ended.
	Ready chan struct{}
}

func replyKey(gen uint32, id int) uint64 { return uint64(gen)<<32 | uint64(uint32(id)) }

// Arm registers sock to wake the returned Wait once it has a
// datagram or an error to read, once deadline has passed, or once ctx has
// ended (noticed within a replyTick).
func (p *Poll) Arm(ctx context.Context, sock Sock, deadline time.Time) (Wait, error) {
	p.mu.Lock()
	if p.set == nil {
		if err := p.start(); err != nil {
			p.mu.Unlock()
			return Wait{}, err
		}
	}
	if due := sweepDue(ctx, deadline, time.Time{}); !p.ticking || due.Before(p.next) {
		p.ticking, p.next = true, due
		p.set.setDeadline(due)
	}
	p.gen++
	w := Wait{key: replyKey(p.gen, sock.id()), Ready: readyChans.Get().(chan struct{})}
	p.waiters[w.key] = waiter{ready: w.Ready, deadline: deadline, ctx: ctx}
	set := p.set // stays open while w is registered
	p.mu.Unlock()
	if err := set.add(p, sock, w.key); err != nil {
		p.Disarm(w)
		return Wait{}, err
	}
	return w, nil
}

// Rearm asks for one more wake-up of w, after its socket had nothing (or
// nothing acceptable) to read.
func (p *Poll) Rearm(sock Sock, w Wait) error {
	p.mu.Lock()
	set := p.set
	p.mu.Unlock()
	return set.rearm(sock, w.key)
}

// Await waits, as w armed for sock with deadline, until read reports
// done or an error: read is called each time w wakes (the socket may hold
// a datagram) and once more when the deadline has passed, since a process
// kept off the CPU (a loaded host, a collector's pause) finds its
// deadline and its reply due at once, and a reply queued is not late.
// woke, if not nil, is asked first on every wake-up (a write that
// failed). Await returns read's or woke's error, ctx's once it has ended,
// os.ErrDeadlineExceeded at the deadline, or Rearm's. It is the one wait
// loop of the forwarder's and the recursive resolver's exchanges.
func (p *Poll) Await(ctx context.Context, sock Sock, w Wait, deadline time.Time, read func() (done bool, err error), woke func() error) error {
	for {
		if !time.Now().Before(deadline) {
			if done, err := read(); done || err != nil {
				return err
			}
			return os.ErrDeadlineExceeded
		}
		<-w.Ready
		if woke != nil {
			if err := woke(); err != nil {
				return err
			}
		}
		if done, err := read(); done || err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !time.Now().Before(deadline) {
			continue // the reaper's sweep woke us, or the reply came too late
		}
		if err := p.Rearm(sock, w); err != nil {
			return err
		}
	}
}

// Disarm forgets w; its socket must be closed after, not before, so a
// reused descriptor number never reaches w (the generation in the key
// keeps a stale event from waking the exchange that reuses it). Its
// channel is recycled: w must not be used after.
func (p *Poll) Disarm(w Wait) {
	p.mu.Lock()
	delete(p.waiters, w.key)
	p.mu.Unlock()
	select { // the reaper sends only while w is registered: drained for good
	case <-w.Ready:
	default:
	}
	readyChans.Put(w.Ready)
}

// start opens the set and starts its reaper; p.mu is held.
func (p *Poll) start() error {
	set, err := openPollSet()
	if err != nil {
		return err
	}
	p.set, p.ticking = set, false
	if p.waiters == nil {
		p.waiters = make(map[uint64]waiter)
	}
	go p.reap(set)
	return nil
}

// Running reports whether a reaper runs; for tests.
func (p *Poll) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set != nil
}

// wake wakes w's exchange, unless a wake-up is already pending.
func (w waiter) wake() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// wakeLocked wakes the exchange registered under key, if it still is;
// p.mu is held.
func (p *Poll) wakeLocked(key uint64) {
	if w, ok := p.waiters[key]; ok {
		w.wake()
	}
}

// wake is wakeLocked for a pollSet that learns of a socket's datagram
// outside the reaper.
func (p *Poll) wake(key uint64) {
	p.mu.Lock()
	p.wakeLocked(key)
	p.mu.Unlock()
}

// reap wakes the waiters whose sockets are ready and, when the earliest
// deadline is due (every replyTick while a context that can end waits),
// those whose deadline has passed or whose context has ended, until the
// set has had no waiter for the idle time.
func (p *Poll) reap(set *pollSet) {
	for {
		keys, err := set.wait()
		p.mu.Lock()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) || !p.ticking && len(p.waiters) == 0 {
				p.set = nil
				p.mu.Unlock()
				set.close()
				return
			}
			now := time.Now()
			if next, ok := p.sweep(now); ok {
				p.next = next
				set.setDeadline(next)
			} else { // none left to sweep for: the idle time starts
				p.ticking = false
				set.setDeadline(now.Add(cmp.Or(p.Idle, replyIdle)))
			}
		}
		for _, key := range keys {
			p.wakeLocked(key)
		}
		p.mu.Unlock()
	}
}

// sweep wakes the waiters whose deadline has passed by now or whose
// context has ended, and returns when the next sweep is due for the
// others; ok is false when none is left to sweep for (a waiter woken
// here ends its exchange without waiting again). p.mu is held.
func (p *Poll) sweep(now time.Time) (next time.Time, ok bool) {
	for _, w := range p.waiters {
		if !now.Before(w.deadline) || w.ctx.Err() != nil {
			w.wake()
			continue
		}
		if due := sweepDue(w.ctx, w.deadline, now); !ok || due.Before(next) {
			next, ok = due, true
		}
	}
	return next, ok
}

// sweepDue is when a waiter with ctx and deadline needs the reaper's
// sweep: at its deadline, or within a replyTick of now (the zero Time:
// the clock's reading) when its context can end.
func sweepDue(ctx context.Context, deadline, now time.Time) time.Time {
	if ctx.Done() == nil {
		return deadline
	}
	if now.IsZero() {
		now = time.Now()
	}
	return earlier(deadline, now.Add(replyTick))
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
