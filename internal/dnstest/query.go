package dnstest

import (
	"net"

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
	q := Query{ID: r.Id, RD: r.RecursionDesired, CD: r.CheckingDisabled, Proto: v.proto,
		Conn: v.conn, HTTPMethod: v.method, HTTPMajor: v.httpMajor, Size: v.size}
	if q.Size == 0 {
		q.Size = r.Len()
	}
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
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.mu.Unlock()
}

// Queries returns a copy of the queries received so far, oldest first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// Count is the number of queries received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queries)
}

// Reset forgets the queries received so far.
func (s *Server) Reset() {
	s.mu.Lock()
	s.queries = nil
	s.mu.Unlock()
}
