package resolver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
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
	a *asyncLog[BlockEvent]
}

// blockLogQueue is deep enough to absorb a burst of ~a second of blocked
// queries at full rate.
const blockLogQueue = 1 << 16

// NewBlockLog starts a writer goroutine that encodes events to w. A nil w
// discards events (log.blocked: off). When w is a *LogFile, Reopen reopens
// it.
func NewBlockLog(w io.Writer, m *Metrics, logger *slog.Logger) *BlockLog {
	// The encoder is used by the writer goroutine only.
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	encode := func(dst []byte, ev *BlockEvent) ([]byte, error) {
		line.Reset()
		if err := enc.Encode(ev); err != nil {
			return dst, err
		}
		return append(dst, line.Bytes()...), nil
	}
	return &BlockLog{a: newAsyncLog("block log", w, blockLogQueue, encode, m.countLogDrops, logger)}
}

// Log queues ev for writing; it never blocks.
func (l *BlockLog) Log(ev BlockEvent) {
	if l != nil {
		l.a.send(ev)
	}
}

// Reopen reopens the log file, if the log goes to one, so that after
// logrotate renamed it new lines go to a new file at the configured path.
func (l *BlockLog) Reopen() error {
	if l == nil {
		return nil
	}
	return l.a.reopen()
}

// Close flushes queued events and stops the writer. Events logged after
// Close are dropped and counted.
func (l *BlockLog) Close() {
	if l != nil {
		l.a.close()
	}
}
