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

// journal is what a server saw, oldest first, safe for concurrent use.
type journal[T any] struct {
	mu      sync.Mutex
	entries []T
}

func (j *journal[T]) add(v T) {
	j.mu.Lock()
	j.entries = append(j.entries, v)
	j.mu.Unlock()
}

func (j *journal[T]) all() []T {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]T(nil), j.entries...)
}

func (j *journal[T]) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries)
}

func (j *journal[T]) reset() {
	j.mu.Lock()
	j.entries = nil
	j.mu.Unlock()
}

func (s *Server) record(r *dns.Msg, from net.Addr, v via) {
	q := queryOf(r, from, v.proto)
	q.Conn, q.HTTPMethod, q.HTTPMajor, q.Size = v.conn, v.method, v.httpMajor, v.size
	if q.Size == 0 {
		q.Size = r.Len()
	}
	s.queries.add(q)
}

// queryOf is what any server sees of r, received from from over proto.
func queryOf(r *dns.Msg, from net.Addr, proto string) Query {
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

// Queries returns a copy of the queries received so far, oldest first.
func (s *Server) Queries() []Query { return s.queries.all() }

// Count is the number of queries received so far.
func (s *Server) Count() int { return s.queries.len() }

// Reset forgets the queries received so far.
func (s *Server) Reset() { s.queries.reset() }
