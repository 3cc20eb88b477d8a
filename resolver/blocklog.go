package resolver

import (
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// BlockEvent is one blocked query as it appears in the block log, one JSON
// line each (DESIGN.md fields). It is what an ISP's log pipeline ingests,
// so field names are a contract: extend, don't rename. Tests and tools
// decode lines into it.
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
	// LogOnly marks what a log-only list would have blocked: the query
	// was not blocked by it.
	LogOnly bool `json:"log_only,omitempty"`
}

// blockRecord is what crosses the block log's queue: the facts, not the
// strings. The writer goroutine derives the list, rule and category names
// from the table that decided, so a block costs the query path one string
// (the query name) and no formatting.
type blockRecord struct {
	at     time.Time
	client netip.Addr
	proto  Proto
	qtype  uint16
	qname  string // canonical: lower case, no trailing dot
	table  *blocklist.Table
	match  blocklist.Match
	// cname is the canonical CNAME target m was matched against; "" when
	// it was the query name.
	cname   string
	logOnly bool
}

// BlockLog writes block events asynchronously: the query path hands a
// record to a bounded queue and never waits on the disk. When the queue is
// full the record is dropped and counted, so a slow disk cannot slow down
// answers.
type BlockLog struct {
	a *asyncLog[blockRecord]
}

// blockLogQueue is deep enough to absorb a burst of ~a second of blocked
// queries at full rate.
const blockLogQueue = 1 << 16

// NewBlockLog starts a writer goroutine that encodes events to w. A nil w
// discards events (log.blocked: off). When w is a *LogFile, Reopen reopens
// it.
func NewBlockLog(w io.Writer, m *Metrics, logger *slog.Logger) *BlockLog {
	return &BlockLog{a: newAsyncLog("block log", w, blockLogQueue, appendBlockRecord, m.countLogDrops, logger)}
}

// log queues rec; it never blocks.
func (l *BlockLog) log(rec blockRecord) {
	if l != nil {
		l.a.send(rec)
	}
}

// enabled reports whether records are written at all, so callers can skip
// building them.
func (l *BlockLog) enabled() bool { return l != nil && l.a.ch != nil }

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

// appendBlockRecord appends r as one JSON line in BlockEvent's field order.
// Hand-written, like the query log's: a blocked flood must not spend the
// answering core's time in reflection.
func appendBlockRecord(dst []byte, r *blockRecord) ([]byte, error) {
	var list blocklist.ListInfo
	if int(r.match.Payload.List) < len(r.table.Lists) {
		list = r.table.Lists[r.match.Payload.List]
	}
	var category string
	if int(r.match.Payload.Category) < len(r.table.Categories) {
		category = r.table.Categories[r.match.Payload.Category]
	}
	matched := r.qname
	if r.cname != "" {
		matched = r.cname
	}
	dst = append(dst, `{"time":"`...)
	dst = r.at.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","client":"`...)
	dst = r.client.AppendTo(dst)
	dst = append(dst, `","protocol":"`...)
	dst = append(dst, r.proto.String()...)
	dst = append(dst, `","qname":`...)
	dst = appendJSONString(dst, r.qname)
	dst = append(dst, `,"qtype":`...)
	dst = appendJSONString(dst, dns.Type(r.qtype).String())
	dst = append(dst, `,"list":`...)
	dst = appendJSONString(dst, list.Name)
	dst = append(dst, `,"rule":`...)
	dst = appendJSONString(dst, r.match.RuleText(matched))
	dst = append(dst, `,"action":`...)
	dst = appendJSONString(dst, r.match.Payload.Action.String())
	dst = append(dst, `,"category":`...)
	dst = appendJSONString(dst, category)
	if r.cname != "" {
		dst = append(dst, `,"cname":`...)
		dst = appendJSONString(dst, r.cname)
	}
	if r.logOnly {
		dst = append(dst, `,"log_only":true`...)
	}
	dst = append(dst, "}\n"...)
	return dst, nil
}
