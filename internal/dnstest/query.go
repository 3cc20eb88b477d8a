package dnstest

import (
	"net"
	"sync"

	"github.com/miekg/dns"
)

// Query is what the server saw of one query, for assertions.
type Query struct {
	Name  string
	Type  uint16
	Proto string // "udp", "tcp", "tls" or "https"
	ID    uint16
	RD    bool
	CD    bool
	DO    bool
	// OPT is the query's OPT record, nil without EDNS.
	OPT *dns.OPT
	// SrcPort is the client's source port.
	SrcPort int
	// Conn numbers the DoT or DoH connection the query came on (from 1, in
	// the order connections were made); 0 for UDP and TCP.
	Conn uint64
	// HTTPMethod ("GET", "POST") and HTTPMajor (1, 2) are DoH's.
	HTTPMethod string
	HTTPMajor  int
	// Size is the query's length in octets (as sent for DoT and DoH, as
	// re-packed by miekg/dns for UDP and TCP), to check padding.
	Size int
}

func (s *Server) record(r *dns.Msg, from net.Addr, v via) {
	q := seenQuery(r, from, v.proto)
	q.Conn, q.HTTPMethod, q.HTTPMajor, q.Size = v.conn, v.method, v.httpMajor, v.size
	if q.Size == 0 {
		q.Size = r.Len()
	}
	s.queryLog.add(q)
}

// seenQuery is what every test server records of r, received from from
// over proto: header bits, question, EDNS and source port.
func seenQuery(r *dns.Msg, from net.Addr, proto string) Query {
	q := Query{ID: r.Id, RD: r.RecursionDesired, CD: r.CheckingDisabled, Proto: proto}
	if len(r.Question) > 0 {
		q.Name, q.Type = r.Question[0].Name, r.Question[0].Qtype
	}
	if opt := r.IsEdns0(); opt != nil {
		q.OPT = dns.Copy(opt).(*dns.OPT)
		q.DO = opt.Do()
	}
	switch a := from.(type) {
	case *net.UDPAddr:
		q.SrcPort = a.Port
	case *net.TCPAddr:
		q.SrcPort = a.Port
	}
	return q
}

// queryLog is the queries a server (Query) or a hierarchy (Seen)
// received, oldest first. Server, Authority and Hierarchy embed it for
// Queries, Count and Reset.
type queryLog[T any] struct {
	mu   sync.Mutex
	seen []T
}

func (l *queryLog[T]) add(q T) {
	l.mu.Lock()
	l.seen = append(l.seen, q)
	l.mu.Unlock()
}

// Queries returns a copy of the queries received so far, oldest first
// (for a Hierarchy: by any of its servers, in arrival order).
func (l *queryLog[T]) Queries() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.seen...)
}

// Count is the number of queries received so far.
func (l *queryLog[T]) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// Reset forgets the queries received so far.
func (l *queryLog[T]) Reset() {
	l.mu.Lock()
	l.seen = nil
	l.mu.Unlock()
}
