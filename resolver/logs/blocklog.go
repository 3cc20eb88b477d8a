// Package logs writes what operators keep of the request path: the block
// log (one JSON line per blocked query), the query log (an Observer), and
// the files both go to. Writing never blocks a query: records cross a
// bounded queue to one writer goroutine, and what does not fit is dropped
// and counted.
package logs

import (
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// BlockEvent is one blocked query as it appears in the block log, one JSON
// line each (docs/ARCHITECTURE.md, "Block log"). It is what an ISP's log pipeline ingests,
// so field names are a contract: extend, don't rename. Tests and tools
// decode lines into it.
type BlockEvent struct {
	Time     time.Time `json:"time"`
	Client   string    `json:"client,omitempty"` // as log.client records it; absent with omit
	Tenant   string    `json:"tenant,omitempty"` // the tenant whose policy answered; absent for the default
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
	// Trigger is the RPZ trigger that matched when it was not the name:
	// rpz-client-ip, rpz-ip, rpz-nsdname or rpz-nsip; Rule is then the
	// network (or the server's name).
	Trigger string `json:"trigger,omitempty"`
}

// BlockRecord is what crosses the block log's queue: the facts, not the
// strings. The writer goroutine derives the list, rule and category names
// from the table that decided, so a block costs the query path one string
// (the query name) and no formatting.
type BlockRecord struct {
	At     time.Time
	Client netip.Addr
	Proto  query.Proto
	QType  uint16
	QName  string // canonical: lower case, no trailing dot
	query.Decision
	// LogOnly marks a record of a log-only list: nothing was blocked.
	LogOnly bool
}

// BlockLog writes block events asynchronously: the query path hands a
// record to a bounded queue and never waits on the disk. When the queue is
// full the record is dropped and counted, so a slow disk cannot slow down
// answers.
type BlockLog struct {
	a       *asyncLog[BlockRecord]
	clients atomic.Pointer[privacy.Set] // nil: full addresses
}

// blockLogQueue is deep enough to absorb a burst of ~a second of blocked
// queries at full rate.
const blockLogQueue = 1 << 16

// NewBlockLog starts a writer goroutine that encodes events to w. A nil w
// discards events (log.blocked: off). When w is a *LogFile, Reopen reopens
// it.
func NewBlockLog(w io.Writer, m *Metrics, logger *slog.Logger) *BlockLog {
	l := &BlockLog{}
	var ( // the writer goroutine's alone
		stamps stampCache
		segs   listSegs
	)
	l.a = newAsyncLog("block log", w, blockLogQueue, func(dst []byte, r *BlockRecord) ([]byte, error) {
		return appendBlockRecord(dst, &stamps, &segs, r, l.clients.Load())
	}, m.countLogDrops, logger)
	return l
}

// SetClients sets how client addresses are written (log.client,
// log.blocked_client, tenants' log.client), from the next record on; a
// reload calls it without reopening the log. nil writes them in full.
func (l *BlockLog) SetClients(s *privacy.Set) {
	if l != nil {
		l.clients.Store(s)
	}
}

// Log queues rec; it never blocks.
func (l *BlockLog) Log(rec BlockRecord) {
	if l != nil {
		l.a.send(&rec)
	}
}

// Enabled reports whether records are written at all, so callers can skip
// building them.
func (l *BlockLog) Enabled() bool { return l != nil && l.a.on() }

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

// appendBlockRecord appends r as one JSON line in BlockEvent's field order,
// its client as clients records it for r's tenant. Hand-written, like the
// query log's: a blocked flood must not spend the answering core's time in
// reflection. segs (nil: none) keeps the text of the fields that come
// from r's list and rule.
func appendBlockRecord(dst []byte, stamps *stampCache, segs *listSegs, r *BlockRecord, clients *privacy.Set) ([]byte, error) {
	list, category := listNames(r)
	action := r.Match.Payload.Action
	dst = appendHead(dst, stamps, r.At, r.Client, r.TenantName(), clients)
	dst = append(dst, `,"protocol":"`...)
	dst = append(dst, r.Proto.String()...)
	dst = append(dst, `","qname":`...)
	dst = appendJSONString(dst, r.QName)
	dst = append(dst, `,"qtype":`...)
	dst = appendJSONString(dst, qtypeName(r.QType))
	if segs != nil {
		segs.fill(list, action, category)
		dst = append(dst, segs.listText...)
	} else {
		dst = appendListField(dst, list)
	}
	dst = append(dst, `,"rule":`...)
	dst = appendJSONString(dst, r.Rule(r.QName))
	if segs != nil {
		dst = append(dst, segs.tailText...)
	} else {
		dst = appendActionFields(dst, action, category)
	}
	if r.CNAME != "" {
		dst = append(dst, `,"cname":`...)
		dst = appendJSONString(dst, r.CNAME)
	}
	if r.LogOnly {
		dst = append(dst, `,"log_only":true`...)
	}
	if r.Trigger != blocklist.TriggerQName {
		dst = append(dst, `,"trigger":`...)
		dst = appendJSONString(dst, r.Trigger.String())
	}
	dst = append(dst, "}\n"...)
	return dst, nil
}

// listNames are the names r's "list" and "category" fields give.
func listNames(r *BlockRecord) (list, category string) {
	if int(r.Match.Payload.List) < len(r.Table.Lists) {
		list = r.Table.Lists[r.Match.Payload.List].Name
	}
	if int(r.Match.Payload.Category) < len(r.Table.Categories) {
		category = r.Table.Categories[r.Match.Payload.Category]
	}
	return list, category
}

// appendListField appends the "list" field.
func appendListField(dst []byte, list string) []byte {
	dst = append(dst, `,"list":`...)
	return appendJSONString(dst, list)
}

// appendActionFields appends the "action" and "category" fields.
func appendActionFields(dst []byte, action blocklist.Action, category string) []byte {
	dst = append(dst, `,"action":`...)
	dst = appendJSONString(dst, action.String())
	dst = append(dst, `,"category":`...)
	return appendJSONString(dst, category)
}

// listSegs is the block log writer's text of the list, action and
// category fields of the last line it wrote: a flood is mostly one
// list's, and escaping those three strings was half of a line's JSON
// work. Keyed by the names, not the table, so that it keeps no replaced
// table alive. It is the writer goroutine's alone.
type listSegs struct {
	list, category     string
	action             blocklist.Action
	valid              bool
	listText, tailText []byte
}

// fill makes c hold the fields of list, action and category.
func (c *listSegs) fill(list string, action blocklist.Action, category string) {
	if c.valid && c.list == list && c.category == category && c.action == action {
		return
	}
	c.list, c.category, c.action, c.valid = list, category, action, true
	c.listText = appendListField(c.listText[:0], list)
	c.tailText = appendActionFields(c.tailText[:0], action, category)
}
