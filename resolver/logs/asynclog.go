package logs

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// asyncLog is the writer behind the block log and the query log: the query
// path hands a record to a bounded queue and never waits on the disk; one
// goroutine encodes records as lines and writes them in batches. When the
// queue is full the record is dropped and counted, so a slow disk cannot
// slow down answers.
//
// The queue is a list of fixed chunks under a mutex, which the writer
// takes whole, not a channel: a channel send took the channel's runtime
// lock and, most times, woke the parked writer (lock2, unlock2 and the
// wake-up were 14% of a blocked query on the answering core,
// BenchmarkReaderBlocked -cpu 1). Here a record costs an uncontended mutex
// and a copy into a chunk, and the writer is woken once per take: only the
// record that finds the queue empty signals it. Chunks, not one growing
// slice: growing it copied and reallocated the queue at every take.
type asyncLog[T any] struct {
	name    string // "block log", "query log": for operator messages
	w       io.Writer
	queue   int           // records queued and being encoded, at most
	wake    chan struct{} // capacity 1; nil when the log is off
	quit    chan struct{} // closed by close
	done    chan struct{}
	once    sync.Once
	encode  func(dst []byte, rec *T) ([]byte, error)
	dropped func(n int)
	logger  *slog.Logger

	// qmu guards the queue: head..tail, the chunks of records sent and
	// not yet taken (queued of them); taken, those the writer took and
	// has not yet written; free, chunks to reuse (nfree of them);
	// stopped, set once the writer has taken its last records.
	qmu        sync.Mutex
	head, tail *logChunk[T]
	queued     int
	taken      int
	free       *logChunk[T]
	nfree      int
	stopped    bool

	// progress counts completed writes and records taken; close gives up
	// on a writer that makes none for asyncLogStall.
	progress atomic.Uint64
	// mu orders the end of a write against close abandoning the writer,
	// so that a batch is counted once: written, or dropped.
	mu        sync.Mutex
	writing   int  // records of the batch being written, and the rest of those taken
	abandoned bool // close gave up: the writer exits without counting
}

// logChunk is a run of queued records.
type logChunk[T any] struct {
	recs [logChunkLen]T
	n    int
	next *logChunk[T]
}

// logChunkLen is the records in a chunk: 45 KiB of block records.
const logChunkLen = 256

// asyncLogKeep is how many emptied chunks the writer keeps for reuse:
// 16,384 records, 2.8 MiB of block records (176 bytes) at most, where the
// channel of 65,536 held 11 MiB from the start; a burst's further chunks
// go to the collector. On one core the writer runs only when the read
// loop parks or is preempted (10 ms, about 10,000 blocked queries), so
// the keep is that deep.
const asyncLogKeep = 64

// asyncLogStall is how long close waits for a writer that makes no
// progress at all (stdout piped to a process that stopped reading, a hung
// NFS mount) before it gives up, drops what is queued and counts it:
// shutdown must not hang on a log destination.
const asyncLogStall = 3 * time.Second

// asyncLogFlush is the batch size past which lines are written even while
// the queue is still busy.
const asyncLogFlush = 64 << 10

// newAsyncLog starts the writer goroutine. A nil w discards records
// without counting them (the log is off).
func newAsyncLog[T any](name string, w io.Writer, queue int, encode func([]byte, *T) ([]byte, error), dropped func(int), logger *slog.Logger) *asyncLog[T] {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &asyncLog[T]{name: name, w: w, queue: queue, quit: make(chan struct{}), done: make(chan struct{}),
		encode: encode, dropped: dropped, logger: logger}
	if w == nil {
		close(l.done)
		return l
	}
	l.wake = make(chan struct{}, 1)
	go l.run()
	return l
}

// on reports whether records are written at all.
func (l *asyncLog[T]) on() bool { return l.wake != nil }

// send queues rec; it never blocks.
func (l *asyncLog[T]) send(rec *T) {
	if l.wake == nil {
		return
	}
	l.qmu.Lock()
	if l.stopped || l.queued+l.taken >= l.queue {
		l.qmu.Unlock()
		l.dropped(1)
		return
	}
	c := l.tail
	if c == nil || c.n == len(c.recs) {
		c = l.free
		if c != nil {
			l.free, c.next = c.next, nil
			l.nfree--
		} else {
			c = new(logChunk[T])
		}
		if l.tail == nil {
			l.head = c
		} else {
			l.tail.next = c
		}
		l.tail = c
	}
	c.recs[c.n] = *rec
	c.n++
	l.queued++
	first := l.queued == 1
	l.qmu.Unlock()
	if first {
		// The writer took the queue empty since the last signal (or
		// has a signal still to take, and will find this record).
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// take returns the queued chunks and how many records they hold. With
// last, finding the queue empty stops it: sends from then on are dropped
// and counted.
func (l *asyncLog[T]) take(last bool) (*logChunk[T], int) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	c, n := l.head, l.queued
	l.head, l.tail, l.queued = nil, nil, 0
	l.taken = n
	if last && n == 0 {
		l.stopped = true
	}
	return c, n
}

// untake marks the writer's taken records done and keeps their emptied
// chunks for reuse.
func (l *asyncLog[T]) untake(c *logChunk[T]) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	l.taken = 0
	for c != nil && l.nfree < asyncLogKeep {
		next := c.next
		c.next, l.free = l.free, c
		l.nfree++
		c = next
	}
}

func (l *asyncLog[T]) run() {
	defer close(l.done)
	var (
		buf     = make([]byte, 0, asyncLogFlush+4096)
		lines   int
		failing bool
	)
	// flush writes the lines in buf; rest is how many of the records
	// taken are still to be encoded, dropped with the batch if close
	// abandons the writer meanwhile. It reports false when it has.
	flush := func(rest int) bool {
		if len(buf) == 0 {
			return true
		}
		l.mu.Lock()
		if l.abandoned { // between two writes: these were not counted
			l.mu.Unlock()
			l.dropped(lines + rest)
			return false
		}
		l.writing = lines + rest
		l.mu.Unlock()
		_, err := l.w.Write(buf)
		l.mu.Lock()
		gone := l.abandoned
		l.writing = 0
		l.mu.Unlock()
		if gone {
			return false // counted by close
		}
		l.progress.Add(1)
		switch {
		case err != nil:
			// The batch is lost, and counted; later batches are tried
			// again (a full disk may free up, SIGHUP may reopen the file).
			l.dropped(lines)
			if !failing {
				l.logger.Error(l.name+" write failed; lines are dropped until writes succeed", "err", err)
				failing = true
			}
		case failing:
			l.logger.Info(l.name + " writes succeed again")
			failing = false
		}
		buf, lines = buf[:0], 0
		return true
	}
	// write encodes and writes the n records of chunks, in writes of
	// about asyncLogFlush: lines appear promptly at low rates and are
	// batched at high rates.
	write := func(chunks *logChunk[T], n int) bool {
		l.progress.Add(uint64(n))
		for c := chunks; c != nil; c = c.next {
			for i := range c.recs[:c.n] {
				n--
				b, err := l.encode(buf, &c.recs[i])
				if err != nil {
					l.logger.Error(l.name+": cannot encode a record; dropped", "err", err)
					l.dropped(1)
				} else {
					buf = b
					lines++
				}
				if len(buf) >= asyncLogFlush && !flush(n) {
					return false
				}
			}
			clear(c.recs[:c.n]) // the records' names and tables are the collector's again
			c.n = 0
		}
		ok := flush(0)
		l.untake(chunks)
		return ok
	}
	for {
		if l.gone() {
			return
		}
		select {
		case <-l.wake:
			if !write(l.take(false)) {
				return
			}
		case <-l.quit:
			// What was sent before close is written; what is sent
			// from the last take on is dropped and counted by send.
			for !l.gone() {
				c, n := l.take(true)
				if n == 0 {
					return
				}
				if !write(c, n) {
					return
				}
			}
			return
		}
	}
}

func (l *asyncLog[T]) gone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.abandoned
}

// reopen reopens the destination when it is a file (SIGHUP after
// logrotate); stdout and stderr need nothing.
func (l *asyncLog[T]) reopen() error {
	if r, ok := l.w.(interface{ Reopen() error }); ok {
		return r.Reopen()
	}
	return nil
}

// close writes what is queued and stops the writer. Records sent after
// close are dropped and counted. A writer that makes no progress for
// asyncLogStall is abandoned: the batch it is stuck writing and the queue
// are counted as dropped, and close returns.
func (l *asyncLog[T]) close() {
	l.once.Do(func() { close(l.quit) })
	tick := time.NewTicker(asyncLogStall / 4)
	defer tick.Stop()
	last, since := l.progress.Load(), time.Now()
	for {
		select {
		case <-l.done:
			return
		case <-tick.C:
		}
		if p := l.progress.Load(); p != last {
			last, since = p, time.Now()
			continue
		}
		if time.Since(since) < asyncLogStall {
			continue
		}
		l.mu.Lock()
		if l.abandoned {
			l.mu.Unlock()
			return
		}
		l.abandoned = true
		n := l.writing
		l.mu.Unlock()
		// From now on sends are dropped, and what is queued is counted
		// here, once.
		l.qmu.Lock()
		n += l.queued
		l.head, l.tail, l.queued, l.stopped = nil, nil, 0, true
		l.qmu.Unlock()
		l.dropped(n)
		l.logger.Error(l.name+": its destination accepts no writes (a stalled stdout or disk); giving up on it to shut down", "dropped_lines", n, "stalled_for", asyncLogStall)
		return
	}
}
