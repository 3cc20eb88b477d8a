package dnstest

import (
	"net"
	"time"

	"github.com/miekg/dns"
)

// Mode is how the server treats every query until changed.
type Mode int32

// Modes. Spoofed replies (SetSpoof) are sent before the mode applies, so
// Timeout with a spoof sends only the forged reply.
const (
	// Answer answers from the zone (the default).
	Answer Mode = iota
	// Timeout never answers.
	Timeout
	// ServFail answers SERVFAIL.
	ServFail
	// Refused answers REFUSED.
	Refused
)

// canned is the reply mode m gives r without looking at the zone. send
// is false where nothing is sent (Timeout); a nil reply with send true
// means answer from the zone (Answer). Server and Authority share it.
func (m Mode) canned(r *dns.Msg) (reply *dns.Msg, send bool) {
	switch m {
	case Timeout:
		return nil, false
	case ServFail:
		return new(dns.Msg).SetRcode(r, dns.RcodeServerFailure), true
	case Refused:
		return new(dns.Msg).SetRcode(r, dns.RcodeRefused), true
	}
	return nil, true
}

// Spoof selects forged replies sent before the genuine one; combine with |.
type Spoof uint32

// Forged replies. Each carries SpoofA as its answer, so a test can tell
// whether a client accepted it.
const (
	// SpoofID is the right question under a wrong message ID.
	SpoofID Spoof = 1 << iota
	// SpoofQuestion is the right ID for a different question name.
	SpoofQuestion
)

// Addresses the server hands out without records for them.
const (
	// SpoofA is the answer in every forged reply.
	SpoofA = "203.0.113.66"
	// WildcardA answers A queries under WithWildcard.
	WildcardA = "192.0.2.53"
	// WildcardAAAA answers AAAA queries under WithWildcard.
	WildcardAAAA = "2001:db8::53"
)

// UDPSize is the EDNS buffer size the server advertises in its OPT.
const UDPSize = 1232

// SetMode switches how the server answers from the next query on.
func (s *Server) SetMode(m Mode) { s.mode.Store(int32(m)) }

// SetTruncateUDP makes UDP answers empty with TC=1 while TCP answers stay
// complete, forcing clients to retry over TCP.
func (s *Server) SetTruncateUDP(on bool) { s.truncate.Store(on) }

// SetSpoof sends the given forged replies ahead of each answer (0: none).
func (s *Server) SetSpoof(sp Spoof) { s.spoof.Store(uint32(sp)) }

// SetDelay holds each genuine answer back by d (forged ones go at once, as
// an off-path attacker racing the server would send them).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// SetEDNSOptions adds opts (e.g. NSID, cookie, padding) to the OPT record
// of every answer to an EDNS query, to test that clients strip them.
func (s *Server) SetEDNSOptions(opts ...dns.EDNS0) { s.ednsOpts.Store(&opts) }

// SetHold withholds genuine answers until n queries are being held, then
// releases them together (0: off). A client that pipelines n queries on
// one DoT connection, or sends n at once over UDP or DoH, gets answers; one
// that waits for each answer before the next query never does. (The plain
// TCP listener answers one query per connection at a time: not for it.)
func (s *Server) SetHold(n int) { s.holdN.Store(int32(n)) }

// via is how a query reached the server.
type via struct {
	proto     string // "udp", "tcp", "tls", "https"
	method    string // HTTP method, DoH only
	httpMajor int    // HTTP major version, DoH only
	conn      uint64 // connection number, DoT and DoH only
	size      int    // wire length, when known
}

// serve is the miekg/dns handler of the UDP and TCP listeners.
func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	v := via{proto: "udp"}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		v.proto = "tcp"
	}
	s.handle(w, r, v)
}

func (s *Server) handle(w dns.ResponseWriter, r *dns.Msg, v via) {
	s.record(r, w.RemoteAddr(), v)
	if len(r.Question) != 1 {
		m := new(dns.Msg).SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	sp := Spoof(s.spoof.Load())
	if sp&SpoofID != 0 {
		m := s.forged(r, r.Question[0].Name)
		m.Id = r.Id + 1
		w.WriteMsg(m)
	}
	if sp&SpoofQuestion != 0 {
		w.WriteMsg(s.forged(r, "spoofed.invalid."))
	}
	if !s.hold() || !sleep(s.done, time.Duration(s.delay.Load())) {
		return
	}

	m, send := Mode(s.mode.Load()).canned(r)
	if !send {
		return
	}
	if m == nil {
		m = s.answer(r)
	}
	if v.proto == "udp" && s.truncate.Load() {
		m.Truncated = true
		m.Answer, m.Ns, m.Extra = nil, nil, nil
	}
	s.addOPT(r, m)
	w.WriteMsg(m)
}

// forged is a reply to r for name, answering SpoofA.
func (s *Server) forged(r *dns.Msg, name string) *dns.Msg {
	m := new(dns.Msg).SetReply(r)
	m.Question[0].Name = name
	m.Answer = []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600},
		A:   net.ParseIP(SpoofA),
	}}
	s.addOPT(r, m)
	return m
}

// addOPT answers an EDNS query with an OPT of our own, echoing DO, plus
// any extra options set.
func (s *Server) addOPT(r, m *dns.Msg) {
	ropt := r.IsEdns0()
	if ropt == nil {
		return
	}
	m.SetEdns0(UDPSize, ropt.Do())
	if p := s.ednsOpts.Load(); p != nil {
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, *p...)
	}
}

// hold waits, under SetHold(n), until n queries are waiting; it reports
// whether the server is still running.
func (s *Server) hold() bool {
	n := int(s.holdN.Load())
	if n <= 0 {
		return true
	}
	s.holdMu.Lock()
	if s.holdCh == nil {
		s.holdCh = make(chan struct{})
	}
	ch := s.holdCh
	if s.held++; s.held >= n {
		close(ch)
		s.holdCh, s.held = nil, 0
	}
	s.holdMu.Unlock()
	select {
	case <-ch:
		return true
	case <-s.done:
		return false
	}
}
