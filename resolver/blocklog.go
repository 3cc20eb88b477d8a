package resolver

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// BlockEvent is one blocked query, written as one JSON line (DESIGN.md
// fields). It is what an ISP's log pipeline ingests, so field names are a
// contract: extend, don't rename.
type BlockEvent struct {
	Time     time.Time `json:"time"`
	Client   string    `json:"client"`
	Protocol string    `json:"protocol"`
	QName    string    `json:"qname"`
	QType    string    `json:"qtype"`
	List     string    `json:"list"`
	Rule     string    `json:"rule"`
	Action   string    `json:"action"`
	Category string    `json:"category"`
	// CNAME is the blocked name met in the answer's CNAME chain, when the
	// query name itself was not listed (CNAME cloaking).
	CNAME string `json:"cname,omitempty"`
}

// BlockLog writes block events asynchronously: the query path hands an event
// to a bounded queue and never waits on the disk. When the queue is full the
// event is dropped and counted, so a slow disk cannot slow down answers.
type BlockLog struct {
	ch      chan BlockEvent
	quit    chan struct{} // closed by Close; ch itself is never closed, so a late Log cannot panic
	done    chan struct{}
	metrics *Metrics
	logger  *slog.Logger
	once    sync.Once
}

// blockLogQueue is deep enough to absorb a burst of ~a second of blocked
// queries at full rate.
const blockLogQueue = 1 << 16

// NewBlockLog starts a writer goroutine that encodes events to w. A nil w
// discards events (log.blocked: off).
func NewBlockLog(w io.Writer, m *Metrics, logger *slog.Logger) *BlockLog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &BlockLog{quit: make(chan struct{}), done: make(chan struct{}), metrics: m, logger: logger}
	if w == nil {
		close(l.done)
		return l
	}
	l.ch = make(chan BlockEvent, blockLogQueue)
	go l.run(w)
	return l
}

// Log queues ev for writing; it never blocks.
func (l *BlockLog) Log(ev BlockEvent) {
	if l == nil || l.ch == nil {
		return
	}
	select {
	case <-l.quit:
		l.metrics.countLogDrop()
		return
	default:
	}
	select {
	case l.ch <- ev:
	default:
		l.metrics.countLogDrop()
	}
}

func (l *BlockLog) run(w io.Writer) {
	defer close(l.done)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var failed bool
	write := func(ev *BlockEvent) {
		if err := enc.Encode(ev); err != nil && !failed {
			l.logger.Error("block log write failed", "err", err)
			failed = true
		}
	}
	flush := func() {
		if err := bw.Flush(); err != nil && !failed {
			l.logger.Error("block log write failed", "err", err)
			failed = true
		}
	}
	for {
		select {
		case ev := <-l.ch:
			write(&ev)
			// Flush when the queue is drained, so lines appear promptly at
			// low rates and are batched at high rates.
			if len(l.ch) == 0 {
				flush()
			}
		case <-l.quit:
			for {
				select {
				case ev := <-l.ch:
					write(&ev)
				default:
					flush()
					return
				}
			}
		}
	}
}

// Close flushes queued events and stops the writer. Events logged after
// Close are dropped and counted.
func (l *BlockLog) Close() {
	if l == nil {
		return
	}
	l.once.Do(func() { close(l.quit) })
	<-l.done
}
