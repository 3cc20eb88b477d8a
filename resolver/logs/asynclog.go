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
type asyncLog[T any] struct {
	name    string // "block log", "query log": for operator messages
	w       io.Writer
	ch      chan T
	quit    chan struct{} // closed by close; ch itself is never closed, so a late send cannot panic
	done    chan struct{}
	once    sync.Once
	encode  func(dst []byte, rec *T) ([]byte, error)
	dropped func(n int)
	logger  *slog.Logger

	// progress counts completed writes and records taken; close gives up
	// on a writer that makes none for asyncLogStall.
	progress atomic.Uint64
	// mu orders the end of a write against close abandoning the writer,
	// so that a batch is counted once: written, or dropped.
	mu        sync.Mutex
	writing   int  // lines of the batch being written
	abandoned bool // close gave up: the writer exits without counting
}

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
	l := &asyncLog[T]{name: name, w: w, quit: make(chan struct{}), done: make(chan struct{}),
		encode: encode, dropped: dropped, logger: logger}
	if w == nil {
		close(l.done)
		return l
	}
	l.ch = make(chan T, queue)
	go l.run()
	return l
}

// send queues rec; it never blocks.
func (l *asyncLog[T]) send(rec T) {
	if l.ch == nil {
		return
	}
	select {
	case <-l.quit:
		l.dropped(1)
		return
	default:
	}
	select {
	case l.ch <- rec:
	default:
		l.dropped(1)
	}
}

func (l *asyncLog[T]) run() {
	defer close(l.done)
	var (
		buf     = make([]byte, 0, asyncLogFlush+4096)
		lines   int
		failing bool
		// rec is reused: a fresh variable per record would escape to the
		// heap through encode and cost an allocation per line.
		rec T
	)
	add := func(rec *T) {
		b, err := l.encode(buf, rec)
		if err != nil {
			l.logger.Error(l.name+": cannot encode a record; dropped", "err", err)
			l.dropped(1)
			return
		}
		buf = b
		lines++
	}
	flush := func() {
		if len(buf) == 0 {
			return
		}
		l.mu.Lock()
		l.writing = lines
		l.mu.Unlock()
		_, err := l.w.Write(buf)
		l.mu.Lock()
		gone := l.abandoned
		l.writing = 0
		l.mu.Unlock()
		if gone {
			return // counted by close
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
	}
	for {
		if l.gone() {
			return
		}
		select {
		case rec = <-l.ch:
			add(&rec)
			// Take what else is queued with plain non-blocking receives
			// (a select and a lock per record cost the answering core a
			// tenth of a blocked query), then write: lines appear
			// promptly at low rates and are batched at high rates.
			taken := uint64(1)
		drain:
			for len(buf) < asyncLogFlush {
				select {
				case rec = <-l.ch:
					add(&rec)
					taken++
				default:
					break drain
				}
			}
			l.progress.Add(taken)
			flush()
		case <-l.quit:
			for !l.gone() {
				select {
				case rec = <-l.ch:
					l.progress.Add(1)
					add(&rec)
					if len(buf) >= asyncLogFlush {
						flush()
					}
				default:
					flush()
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
		n := l.writing + len(l.ch)
		l.mu.Unlock()
		l.dropped(n)
		l.logger.Error(l.name+": its destination accepts no writes (a stalled stdout or disk); giving up on it to shut down", "dropped_lines", n, "stalled_for", asyncLogStall)
		return
	}
}
