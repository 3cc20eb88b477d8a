package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Authority is a fake authoritative server for one or more zones, the node of
// a simulated DNS hierarchy (see StartHierarchy). Unlike Server it knows zone
// cuts: NS records below a zone apex are answered as referrals with glue,
// DNAMEs are followed, and a query outside every zone it serves is REFUSED,
// which is exactly what a lame server does. All methods are safe for
// concurrent use with the queries it serves.
type Authority struct {
	// Addr is "ip:port", shared by the UDP and TCP listeners.
	Addr string
	// IP is the address part of Addr.
	IP string

	t testing.TB
	h *Hierarchy // nil when started alone

	mu         sync.Mutex
	zones      map[string]map[string][]dns.RR // origin -> lower-case owner -> records
	additional []dns.RR                       // appended to every answer (poisoning tests)
	authority  []dns.RR
	queryLog[Query]

	mode        atomic.Int32
	truncate    atomic.Bool
	rejectEDNS  atomic.Bool
	lowerQName  atomic.Bool
	delay       atomic.Int64
	minimalGlue atomic.Bool
	override    atomic.Pointer[Responder]

	done chan struct{}
	udp  *dns.Server
	tcp  *dns.Server
}

// StartAuthority starts an Authority on addr ("127.0.0.2:0", "[::1]:0") and
// stops it when the test ends. Most tests want StartHierarchy instead, which
// puts several on one port.
func StartAuthority(t testing.TB, addr string) *Authority {
	t.Helper()
	pc, ln, err := tryListen(addr)
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return serveAuthority(t, nil, pc, ln)
}

func serveAuthority(t testing.TB, h *Hierarchy, pc net.PacketConn, ln net.Listener) *Authority {
	a := &Authority{
		Addr:  pc.LocalAddr().String(),
		t:     t,
		h:     h,
		zones: make(map[string]map[string][]dns.RR),
		done:  make(chan struct{}),
	}
	a.IP, _, _ = net.SplitHostPort(a.Addr)
	a.udp, a.tcp = serveDNS(t, pc, ln, dns.HandlerFunc(a.serve))
	t.Cleanup(a.close)
	return a
}

// tryListen opens UDP and TCP on the same address; with port 0 it retries
// until the kernel's UDP port is also free for TCP.
func tryListen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("bad address %q: %w", addr, err)
	}
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// serveDNS answers with h on pc (UDP) and ln (TCP); it returns once both
// servers run. shutdownDNS stops them.
func serveDNS(t testing.TB, pc net.PacketConn, ln net.Listener, h dns.Handler) (udp, tcp *dns.Server) {
	udp = &dns.Server{PacketConn: pc, Handler: h}
	tcp = &dns.Server{Listener: ln, Handler: h}
	var started sync.WaitGroup
	for _, srv := range []*dns.Server{udp, tcp} {
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				t.Logf("dnstest %s: %v", pc.LocalAddr(), err)
			}
		}()
	}
	started.Wait()
	return udp, tcp
}

// shutdownDNS stops the servers of serveDNS.
func shutdownDNS(t testing.TB, addr string, servers ...*dns.Server) {
	for _, srv := range servers {
		if err := srv.Shutdown(); err != nil {
			t.Logf("dnstest %s: shutdown: %v", addr, err)
		}
	}
}

func (a *Authority) close() {
	close(a.done)
	shutdownDNS(a.t, a.Addr, a.udp, a.tcp)
}

// AddZone makes the server authoritative for origin and adds records to that
// zone, in zone-file syntax. NS records at origin are the apex NS set; NS
// records below it are delegations, and A/AAAA records for the NS targets
// are handed out as glue wherever they are stored, so a test can plant
// out-of-bailiwick glue by adding it to the parent zone. Without an SOA at
// the apex one is synthesized (minimum 60s).
func (a *Authority) AddZone(origin string, records ...string) {
	a.t.Helper()
	origin = dns.CanonicalName(origin)
	a.mu.Lock()
	z := a.zones[origin]
	if z == nil {
		z = make(map[string][]dns.RR)
		a.zones[origin] = z
	}
	a.mu.Unlock()
	for _, text := range records {
		rr := a.parse(text)
		name := dns.CanonicalName(rr.Header().Name)
		a.mu.Lock()
		z[name] = append(z[name], rr)
		a.mu.Unlock()
	}
}

// Remove deletes the records of type rrtype owned by owner from the zone
// origin (a zone changing under a resolver's cache).
func (a *Authority) Remove(origin, owner string, rrtype uint16) {
	origin, owner = dns.CanonicalName(origin), dns.CanonicalName(owner)
	a.mu.Lock()
	defer a.mu.Unlock()
	z := a.zones[origin]
	var keep []dns.RR
	for _, rr := range z[owner] {
		if rr.Header().Rrtype != rrtype {
			keep = append(keep, rr)
		}
	}
	if len(keep) == 0 {
		delete(z, owner)
		return
	}
	z[owner] = keep
}

// AddAdditional appends records to the additional section of every reply
// (forged glue, unrelated "helpful" records), to test that a resolver
// ignores what it did not ask for.
func (a *Authority) AddAdditional(records ...string) {
	a.t.Helper()
	a.addTo(&a.additional, records)
}

// AddAuthority appends records to the authority section of every reply.
func (a *Authority) AddAuthority(records ...string) {
	a.t.Helper()
	a.addTo(&a.authority, records)
}

// addTo parses records and appends them to section, which a.mu guards.
func (a *Authority) addTo(section *[]dns.RR, records []string) {
	a.t.Helper()
	for _, text := range records {
		rr := a.parse(text)
		a.mu.Lock()
		*section = append(*section, rr)
		a.mu.Unlock()
	}
}

func (a *Authority) parse(text string) dns.RR {
	a.t.Helper()
	rr, err := dns.NewRR(text)
	if err != nil || rr == nil {
		a.t.Fatalf("dnstest: bad record %q: %v", text, err)
	}
	return rr
}

// SetMode switches how the server answers from the next query on
// (Answer, Timeout, ServFail, Refused).
func (a *Authority) SetMode(m Mode) { a.mode.Store(int32(m)) }

// SetTruncateUDP makes every UDP answer empty with TC=1, forcing TCP.
func (a *Authority) SetTruncateUDP(on bool) { a.truncate.Store(on) }

// SetRejectEDNS makes the server answer FORMERR, without an OPT, to any
// query carrying one, like pre-EDNS servers and broken middleboxes.
func (a *Authority) SetRejectEDNS(on bool) { a.rejectEDNS.Store(on) }

// SetLowerQName makes replies carry the question name in lower case, as
// servers that do not preserve case do (they defeat 0x20 randomisation).
func (a *Authority) SetLowerQName(on bool) { a.lowerQName.Store(on) }

// SetDelay holds each answer back by d.
func (a *Authority) SetDelay(d time.Duration) { a.delay.Store(int64(d)) }

// SetNoGlue makes referrals carry no glue at all, even for in-bailiwick
// name servers.
func (a *Authority) SetNoGlue(on bool) { a.minimalGlue.Store(on) }

func (a *Authority) serve(w dns.ResponseWriter, r *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	a.record(r, w.RemoteAddr(), tcp)
	if len(r.Question) != 1 || r.Response {
		w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeFormatError))
		return
	}
	if !sleep(a.done, time.Duration(a.delay.Load())) {
		return
	}
	opt := r.IsEdns0()
	if opt != nil && a.rejectEDNS.Load() {
		m := new(dns.Msg).SetRcode(r, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	m, send := Mode(a.mode.Load()).canned(r)
	if !send {
		return
	}
	if m == nil {
		if m = a.respond(r); m == nil {
			return
		}
	}
	if a.lowerQName.Load() {
		m.Question[0].Name = strings.ToLower(m.Question[0].Name)
	}
	size := dns.MinMsgSize
	if opt != nil {
		m.SetEdns0(UDPSize, opt.Do())
		size = max(int(min(opt.UDPSize(), UDPSize)), dns.MinMsgSize)
	}
	if !tcp {
		if a.truncate.Load() {
			m.Truncated = true
			m.Answer, m.Ns = nil, nil
			m.Extra = keepOPT(m.Extra)
		} else {
			m.Truncate(size)
		}
	}
	w.WriteMsg(m)
}

func keepOPT(extra []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

func (a *Authority) record(r *dns.Msg, from net.Addr, tcp bool) {
	proto := "udp"
	if tcp {
		proto = "tcp"
	}
	q := seenQuery(r, from, proto)
	a.queryLog.add(q)
	if a.h != nil {
		a.h.record(a.IP, q)
	}
}
