package logs

import (
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/privacy"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// QueryLog writes one JSON line per (sampled) query: the full query log an
// operator turns on to debug a client or feed a SIEM. It is an Observer,
// fed after the answer is sent; like the block log it never makes a query
// wait: records go through a bounded queue and are dropped (and counted in
// bulwark_querylog_dropped_total) when the writer falls behind.
//
// A line looks like
//
//	{"time":"2026-11-22T01:02:03.456789Z","client":"192.0.2.7","protocol":"udp","qname":"example.com","qtype":"A","rcode":"NOERROR","duration_ms":0.412,"answers":2}
//
// rcode is "dropped" when no answer was sent; tenant is there when a
// configured tenant's policy answered. Field names are a contract
// with log pipelines: extend, don't rename.
type QueryLog struct {
	a       *asyncLog[queryRecord]
	clients atomic.Pointer[privacy.Set] // nil: full addresses
	// Sampling: a query is logged when all is set or a random 64-bit
	// number falls below threshold (sample × 2⁶⁴).
	all       bool
	threshold uint64
}

// queryRecord is what crosses the queue: plain values the handler already
// had, so that logging a query allocates nothing on the query path; the
// writer goroutine formats it.
type queryRecord struct {
	received time.Time
	duration time.Duration
	client   netip.AddrPort
	proto    query.Proto
	tenant   string
	qname    string
	qtype    uint16
	rcode    int
	answers  int
}

// queryLogQueue absorbs about half a second of queries at a high rate.
const queryLogQueue = 1 << 16

// NewQueryLog starts a query log writing to w (a *LogFile to be
// reopenable), logging the fraction sample of queries (0 < sample <= 1).
// A nil w gives a log that logs nothing.
func NewQueryLog(w io.Writer, sample float64, m *Metrics, logger *slog.Logger) *QueryLog {
	l := &QueryLog{}
	var stamps stampCache // the writer goroutine's alone
	l.a = newAsyncLog("query log", w, queryLogQueue, func(dst []byte, r *queryRecord) ([]byte, error) {
		return appendQueryRecord(dst, &stamps, r, l.clients.Load())
	}, m.countQueryLogDrops, logger)
	if sample >= 1 {
		l.all = true
	} else if sample > 0 {
		l.threshold = uint64(math.Ldexp(sample, 64))
	}
	return l
}

// Observe implements Observer. The sampling decision comes first, before
// anything is built.
func (l *QueryLog) Observe(ev query.Event) {
	if !l.all && rand.Uint64() >= l.threshold {
		return
	}
	l.a.send(&queryRecord{
		received: ev.Received, duration: ev.Duration, client: ev.Client, proto: ev.Proto, tenant: ev.Tenant,
		qname: ev.QName, qtype: ev.QType, rcode: ev.Rcode, answers: ev.Answers,
	})
}

// SetClients sets how client addresses are written (log.client,
// log.queries_client, tenants' log.client), from the next record on. nil
// writes them in full.
func (l *QueryLog) SetClients(s *privacy.Set) {
	if l != nil {
		l.clients.Store(s)
	}
}

// Reopen reopens the log file, if the log goes to one (SIGHUP after
// logrotate).
func (l *QueryLog) Reopen() error {
	if l == nil {
		return nil
	}
	return l.a.reopen()
}

// Close writes what is queued and stops the writer.
func (l *QueryLog) Close() {
	if l != nil {
		l.a.close()
	}
}

// appendQueryRecord appends r as one JSON line. It is hand-written rather
// than encoding/json because at full query rate the writer goroutine's CPU
// is taken from answering.
func appendQueryRecord(dst []byte, stamps *stampCache, r *queryRecord, clients *privacy.Set) ([]byte, error) {
	dst = appendHead(dst, stamps, r.received, r.client.Addr(), r.tenant, clients)
	dst = append(dst, `,"protocol":"`...)
	dst = append(dst, r.proto.String()...)
	dst = append(dst, `","qname":`...)
	dst = appendJSONString(dst, dnswire.Canonical(r.qname))
	dst = append(dst, `,"qtype":`...)
	dst = appendJSONString(dst, qtypeName(r.qtype))
	dst = append(dst, `,"rcode":`...)
	dst = appendJSONString(dst, rcodeName(r.rcode))
	dst = append(dst, `,"duration_ms":`...)
	dst = strconv.AppendFloat(dst, float64(r.duration)/float64(time.Millisecond), 'f', 3, 64)
	dst = append(dst, `,"answers":`...)
	dst = strconv.AppendInt(dst, int64(r.answers), 10)
	dst = append(dst, "}\n"...)
	return dst, nil
}

// appendHead opens a record of either log: its time, the client as
// clients records it for tenant (left out when omitted), and the tenant
// when there is one. A record's own time picks the hash period.
func appendHead(dst []byte, stamps *stampCache, at time.Time, client netip.Addr, tenant string, clients *privacy.Set) []byte {
	dst = append(dst, `{"time":"`...)
	dst = stamps.append(dst, at)
	dst = append(dst, '"')
	mark := len(dst)
	dst = append(dst, `,"client":"`...)
	var ok bool
	if dst, ok = clients.For(tenant).AppendClient(dst, client, at); ok {
		dst = append(dst, '"')
	} else {
		dst = dst[:mark]
	}
	if tenant != "" {
		dst = append(dst, `,"tenant":`...)
		dst = appendJSONString(dst, tenant)
	}
	return dst
}

// qtypeNames holds the names of the first 256 types (every common one),
// read only: naming a type was a map lookup per line on the writer's (the
// answering) core.
var qtypeNames = func() (t [256]string) {
	for i := range t {
		t[i] = dns.Type(i).String()
	}
	return t
}()

// qtypeName names qtype as miekg/dns does ("A", "TYPE65534").
func qtypeName(qtype uint16) string {
	if int(qtype) < len(qtypeNames) {
		return qtypeNames[qtype]
	}
	return dns.Type(qtype).String()
}

// rcodeName names an rcode as the metrics do: "NOERROR", ..., "dropped"
// for silence.
func rcodeName(rcode int) string {
	if rcode < 0 {
		return "dropped"
	}
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// jsonPlain marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash. A table, read only, because the
// scan runs over every name of every line on the writer's (the answering)
// core, and one load per byte beats four comparisons.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Query names come in
// presentation format, so they may hold quotes and backslashes (\" and
// \DDD escapes); invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		// A run of bytes that need no escape goes in one copy: query
		// names, list and rule names are nothing else, and a line is
		// encoded on the serving core's time.
		j := i
		for j < len(s) && jsonPlain[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			default: // a control byte
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but they break JavaScript consumers.
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
