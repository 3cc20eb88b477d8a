package dnstest

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// maxChain bounds CNAME chasing, so a loop in test data cannot hang a query.
const maxChain = 8

// Add adds records in zone-file syntax, e.g. "www.example.com. 300 IN A
// 192.0.2.1". An SOA added at the zone apex replaces the synthesized one.
// It fails the test on a syntax error.
func (s *Server) Add(records ...string) {
	s.t.Helper()
	for _, text := range records {
		rr, err := dns.NewRR(text)
		if err != nil || rr == nil {
			s.t.Fatalf("dnstest: bad record %q: %v", text, err)
			return
		}
		name := dns.CanonicalName(rr.Header().Name)
		s.mu.Lock()
		s.records[name] = append(s.records[name], rr)
		s.mu.Unlock()
	}
}

// answer builds the authoritative answer to r from the zone.
func (s *Server) answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg).SetReply(r)
	m.Authoritative = true
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	if !dns.IsSubDomain(s.zone, name) {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		return m
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	owner := q.Name // as the client spelled it, for synthesized answers
	for range maxChain {
		rrs, exists := s.records[name]
		found, cname := pick(rrs, q.Qtype)
		switch {
		case len(found) > 0:
			m.Answer = append(m.Answer, found...)
			return m
		case cname != nil:
			m.Answer = append(m.Answer, cname)
			owner, name = cname.Target, dns.CanonicalName(cname.Target)
			if !dns.IsSubDomain(s.zone, name) {
				return m // the client follows the chain out of our zone
			}
		case exists || s.nonTerminal(name):
			m.Ns = []dns.RR{s.soa()}
			return m
		case s.wildcard:
			if rr := wildcard(owner, q.Qtype); rr != nil {
				m.Answer = append(m.Answer, rr)
			} else {
				m.Ns = []dns.RR{s.soa()}
			}
			return m
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{s.soa()}
			return m
		}
	}
	return m
}

// nonTerminal reports whether name owns no records but has names below it,
// which makes it exist (NODATA, not NXDOMAIN). Callers hold s.mu.
func (s *Server) nonTerminal(name string) bool {
	for owner := range s.records {
		if strings.HasSuffix(owner, "."+name) || name == "." {
			return true
		}
	}
	return false
}

// soa is the zone's SOA: the one added at the apex, or a synthesized one
// whose minimum (60s) bounds negative caching. Callers hold s.mu.
func (s *Server) soa() dns.RR {
	for _, rr := range s.records[s.zone] {
		if rr.Header().Rrtype == dns.TypeSOA {
			return rr
		}
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: s.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:      "ns." + strings.TrimPrefix(s.zone, "."),
		Mbox:    "hostmaster." + strings.TrimPrefix(s.zone, "."),
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  60,
	}
}

// wildcard synthesizes the wildcard answer for name, nil for other types.
func wildcard(name string, qtype uint16) dns.RR {
	hdr := dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET, Ttl: 300}
	switch qtype {
	case dns.TypeA:
		return &dns.A{Hdr: hdr, A: net.ParseIP(WildcardA)}
	case dns.TypeAAAA:
		return &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(WildcardAAAA)}
	}
	return nil
}

// pick returns the records of rrs that answer qtype (all of them for ANY),
// or else the CNAME among them, which the caller follows.
func pick(rrs []dns.RR, qtype uint16) (found []dns.RR, cname *dns.CNAME) {
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
			found = append(found, rr)
		} else if c, ok := rr.(*dns.CNAME); ok {
			cname = c
		}
	}
	return found, cname
}
