package feeds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/internal/clock"
)

// xfrSource is a response policy zone kept by zone transfer from its
// primaries, the way vendors and national services distribute RPZ: an SOA
// query on every refresh (and on NOTIFY), IXFR from the serial in hand
// (RFC 1995), AXFR when there is none or the primary cannot answer
// incrementally, TSIG on every message when a key is configured. The SOA's
// refresh, retry and expire timers drive the schedule.
//
// The zone is held as its master-file text, one record a line with TTL 0
// and names in lower case, in one []byte: pointer-free, so a million-rule
// zone costs the garbage collector nothing, and an IXFR is a single pass
// that drops the deleted lines and appends the added ones. That text is
// also the body the Manager parses and writes to feeds.cache_dir, so a
// restart finds the zone and its serial there and asks IXFR from it.
type xfrSource struct {
	name      string // the list's
	shown     string // the source as configured
	zone      string // canonical, absolute
	primaries []netip.AddrPort
	key       *tsigKey // nil: unsigned
	onExpire  string
	refresh   time.Duration // the list's refresh: overrides the SOA's when set
	maxSize   int64

	// Set by the Manager (attach); zero values work for tests.
	log       *slog.Logger
	clock     clock.Clock
	cachePath string // the cached body, "" without feeds.cache_dir
	met       func() *Metrics
	// onDelta, if set, is handed each IXFR's changes and the new zone
	// before Fetch returns (Manager.publishDelta).
	onDelta func(net map[string]bool, body []byte)

	mu      sync.Mutex
	body    []byte   // the zone as text; nil: none yet
	soa     *dns.SOA // the zone's SOA; nil: none yet
	lastOK  time.Time
	expired bool
	lastXfr string // "ixfr", "axfr" or "" (up to date), for logs and tests
}

// xfrReadTimeout bounds the wait for each message of a transfer.
const xfrReadTimeout = 15 * time.Second

// Bounds on the SOA timers, so that a zone saying "refresh 0" or "refresh
// 10 years" neither hammers its primary nor goes stale.
const (
	minXfrTimer = time.Second
	maxXfrTimer = 24 * time.Hour
)

func newXfrSource(c ListConfig, u xfrURL, key *tsigKey, maxSize int64) *xfrSource {
	s := &xfrSource{name: c.Name, shown: c.Source, zone: u.zone, primaries: []netip.AddrPort{u.primary},
		key: key, onExpire: c.OnExpire, refresh: c.Refresh, maxSize: maxSize}
	if s.onExpire == "" {
		s.onExpire = OnExpireKeep
	}
	for _, p := range c.Primaries {
		ap, _ := parsePrimary(p) // validated
		if !containsAddrPort(s.primaries, ap) {
			s.primaries = append(s.primaries, ap)
		}
	}
	s.log = slog.New(slog.DiscardHandler)
	s.clock = clock.Real{}
	s.met = func() *Metrics { return nil }
	return s
}

func containsAddrPort(s []netip.AddrPort, ap netip.AddrPort) bool {
	for _, x := range s {
		if x == ap {
			return true
		}
	}
	return false
}

func (s *xfrSource) String() string { return s.shown }
func (s *xfrSource) Remote() bool   { return true }

// serialStamp is the Validators.Stamp of a zone version.
func serialStamp(serial uint32) string { return "serial " + strconv.FormatUint(uint64(serial), 10) }

// errZoneExpired fails a refresh once the zone's SOA expire has passed with
// on_expire: drop; the Manager then stops serving the list.
var errZoneExpired = errors.New("the zone expired (SOA expire passed without reaching a primary; on_expire: drop)")

// Fetch implements Source: the primaries are tried in order until one
// confirms or updates the zone.
func (s *xfrSource) Fetch(ctx context.Context, prev Validators) (*Response, error) {
	s.mu.Lock()
	if s.soa == nil && prev.Stamp != "" {
		s.loadSavedLocked(prev.Stamp)
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range s.primaries {
		resp, err := s.fetchFrom(ctx, p, prev)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		s.log.Warn("zone transfer failed", "feed", s.name, "zone", s.zone, "primary", p.String(), "err", err)
		errs = append(errs, fmt.Errorf("primary %s: %w", p, err))
	}
	err := errors.Join(errs...)
	if s.checkExpire() && s.onExpire == OnExpireDrop {
		return nil, fmt.Errorf("%w: %v", errZoneExpired, err)
	}
	return nil, err
}

// fetchFrom checks the zone with one primary: SOA first, then IXFR (or
// AXFR) if the primary's serial is newer than ours.
func (s *xfrSource) fetchFrom(ctx context.Context, p netip.AddrPort, prev Validators) (*Response, error) {
	s.mu.Lock()
	cur := s.soa
	s.mu.Unlock()
	if cur != nil {
		serial, err := s.querySOA(ctx, p)
		if err != nil {
			return nil, err
		}
		if !serialNewer(serial, cur.Serial) {
			return s.confirmed(prev, "")
		}
		err = s.ixfr(ctx, p, cur)
		if err == nil {
			return s.confirmed(prev, "ixfr")
		}
		if ctx.Err() != nil {
			return nil, err
		}
		s.log.Info("IXFR failed; falling back to AXFR", "feed", s.name, "zone", s.zone, "primary", p.String(), "err", err)
	}
	if err := s.axfr(ctx, p); err != nil {
		return nil, err
	}
	return s.confirmed(prev, "axfr")
}

// confirmed records that a primary vouched for the zone now and answers
// the Manager: not modified if it holds this version already.
func (s *xfrSource) confirmed(prev Validators, kind string) (*Response, error) {
	s.mu.Lock()
	s.lastOK = s.clock.Now()
	wasExpired := s.expired
	s.expired = false
	s.lastXfr = kind
	body, serial := s.body, s.soa.Serial
	s.mu.Unlock()
	if wasExpired {
		s.log.Info("zone reachable again; no longer expired", "feed", s.name, "zone", s.zone)
	}
	met := s.met()
	met.zoneSerial(s.name, serial)
	met.zoneExpired(s.name, false)
	if kind != "" {
		met.zoneTransfer(s.name, kind)
	}
	v := Validators{Stamp: serialStamp(serial)}
	if prev.Stamp == v.Stamp {
		return &Response{NotModified: true, Validators: v}, nil
	}
	return &Response{Body: io.NopCloser(bytes.NewReader(body)), Validators: v}, nil
}

// checkExpire marks the zone expired once its SOA expire has passed since
// a primary last confirmed it, and reports whether it is.
func (s *xfrSource) checkExpire() bool {
	s.mu.Lock()
	if s.soa == nil || s.lastOK.IsZero() {
		s.mu.Unlock()
		return false
	}
	expire := clampTimer(time.Duration(s.soa.Expire) * time.Second)
	now := s.clock.Now()
	newly := !s.expired && now.Sub(s.lastOK) >= expire
	if newly {
		s.expired = true
	}
	expired, since := s.expired, s.lastOK
	s.mu.Unlock()
	if newly {
		what := "still enforcing the last zone (on_expire: keep)"
		if s.onExpire == OnExpireDrop {
			what = "no longer serving it (on_expire: drop)"
		}
		s.log.Error("zone expired: no primary confirmed it within the SOA expire; "+what,
			"feed", s.name, "zone", s.zone, "last_confirmed", since, "expire", expire)
	}
	s.met().zoneExpired(s.name, expired)
	return expired
}

// nextCheck is when the Manager's refresh loop checks again: the SOA's
// refresh after a success (or the list's own refresh when set), its retry
// after a failure, and never later than the expire deadline. ok is false
// while no SOA is known: the Manager's own schedule applies.
func (s *xfrSource) nextCheck(success bool) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.soa == nil {
		return 0, false
	}
	refresh := clampTimer(time.Duration(s.soa.Refresh) * time.Second)
	if s.refresh > 0 {
		refresh = s.refresh
	}
	if success {
		return jitter(refresh), true
	}
	d := min(clampTimer(time.Duration(s.soa.Retry)*time.Second), refresh)
	if !s.expired && !s.lastOK.IsZero() {
		left := s.lastOK.Add(clampTimer(time.Duration(s.soa.Expire) * time.Second)).Sub(s.clock.Now())
		d = max(min(d, left), minXfrTimer)
	}
	return d, true
}

func clampTimer(d time.Duration) time.Duration { return min(max(d, minXfrTimer), maxXfrTimer) }

// serialNewer reports whether a is newer than b in serial number
// arithmetic (RFC 1982).
func serialNewer(a, b uint32) bool { return a != b && int32(a-b) > 0 }

// ---- the wire ----

// newMsg returns a query for the zone, signed when a key is configured.
func (s *xfrSource) sign(m *dns.Msg) {
	if s.key != nil {
		m.SetTsig(s.key.name, s.key.algorithm, 300, time.Now().Unix())
	}
}

func (s *xfrSource) tsigSecrets() map[string]string {
	if s.key == nil {
		return nil
	}
	return map[string]string{s.key.name: s.key.secret}
}

// The SOA check's transports. A secondary's refresh is one SOA query, and
// a single lost datagram (a busy primary, a firewall's state table) must
// not fail the primary for the whole refresh: BIND sends the query over
// UDP up to 3 times, 5 s apart, on one socket, then falls back to TCP
// (try-tcp-refresh, on by default); Knot asks over TCP alone, with its
// 5 s tcp-remote-io-timeout. Bulwark does as BIND with shorter tries, so
// that a lost datagram costs a second rather than five: an answer to any
// of the tries is taken, so a slow primary still gets the whole 3 s, and
// TCP, which retransmits on its own, covers a path that drops UDP.
const (
	soaUDPTries   = 3
	soaUDPTry     = time.Second
	soaTCPTimeout = 5 * time.Second
)

// soaQuery is the SOA query for the zone, signed when a key is configured.
// Each transport gets its own: signing (miekg/dns's TsigGenerate) takes
// the TSIG record off the message it packs.
func (s *xfrSource) soaQuery() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(s.zone, dns.TypeSOA)
	m.RecursionDesired = false
	s.sign(m)
	return m
}

// querySOA asks p for the zone's SOA serial: over UDP (soaUDPTries tries),
// then over TCP if no UDP answer came, the path failed or the answer was
// truncated. ctx bounds the whole check.
func (s *xfrSource) querySOA(ctx context.Context, p netip.AddrPort) (uint32, error) {
	r, err := s.soaOverUDP(ctx, p)
	if ctx.Err() != nil {
		return 0, fmt.Errorf("SOA query: %w", ctx.Err())
	}
	if errors.Is(err, errSOAAnswer) {
		return 0, fmt.Errorf("SOA query: %w", tsigHint(err))
	}
	if err != nil || r.Truncated {
		why := "the UDP answer was truncated"
		if err != nil {
			why = err.Error()
		}
		c := &dns.Client{Net: "tcp", TsigSecret: s.tsigSecrets(), Timeout: soaTCPTimeout}
		r, _, err = c.ExchangeContext(ctx, s.soaQuery(), p.String())
		if err == nil {
			err = s.unsigned(r)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("no answer within %s", soaTCPTimeout)
			}
			return 0, fmt.Errorf("SOA query: %s; over TCP: %w", why, tsigHint(err))
		}
		s.log.Info("SOA query answered over TCP", "feed", s.name, "zone", s.zone, "primary", p.String(), "udp", why)
	}
	if err := rcodeErr("SOA query", r); err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, s.zone) {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("SOA query: the answer holds no SOA for %s (is the server authoritative for it?)", s.zone)
}

// errSOAAnswer marks an answer that arrived over UDP but is unsigned or
// does not verify (TSIG): the primary was reached, so TCP would not do
// better.
var errSOAAnswer = errors.New("the answer does not verify")

// soaOverUDP sends the SOA query over one UDP socket up to soaUDPTries
// times, soaUDPTry apart, the same bytes each time (the same ID and TSIG
// time, as BIND resends), and returns the first answer to any of them.
// Datagrams that are not an answer to it are skipped (soaReply). An error other than errSOAAnswer means no
// answer came, and says why.
func (s *xfrSource) soaOverUDP(ctx context.Context, p netip.AddrPort) (*dns.Msg, error) {
	m := s.soaQuery()
	var out []byte
	var mac string
	var err error
	if s.key != nil {
		out, mac, err = dns.TsigGenerate(m, s.key.secret, "", false)
	} else {
		out, err = m.Pack()
	}
	if err != nil {
		return nil, fmt.Errorf("over UDP: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", p.String())
	if err != nil {
		return nil, fmt.Errorf("over UDP: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, dns.MaxMsgSize)
	for range soaUDPTries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := conn.Write(out); err != nil {
			return nil, fmt.Errorf("over UDP: %w", err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(soaUDPTry))
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				break // this try's wait is over: send again
			}
			if err != nil {
				return nil, fmt.Errorf("over UDP: %w", err)
			}
			if r, ok, err := s.soaReply(buf[:n], m.Id, mac); ok {
				return r, err
			}
		}
	}
	return nil, fmt.Errorf("no answer over UDP (%d tries, %s each)", soaUDPTries, soaUDPTry)
}

// soaReply judges a datagram p that came while waiting for the answer to
// the SOA query id (whose TSIG MAC is mac): ok is false if it is not that
// answer (another ID, not a response, another question, unparseable: skip
// it and wait on), and err is set (errSOAAnswer) if it is but does not
// verify. Verifying rewrites p's header (miekg/dns takes the TSIG off in
// place): p is the read buffer, not kept.
func (s *xfrSource) soaReply(p []byte, id uint16, mac string) (r *dns.Msg, ok bool, err error) {
	r = new(dns.Msg)
	if r.Unpack(p) != nil || r.Id != id || !r.Response {
		return nil, false, nil
	}
	if len(r.Question) > 0 && (len(r.Question) > 1 || r.Question[0].Qtype != dns.TypeSOA || !strings.EqualFold(r.Question[0].Name, s.zone)) {
		return nil, false, nil
	}
	if err := s.unsigned(r); err != nil {
		return nil, true, fmt.Errorf("%w over UDP: %w", errSOAAnswer, err)
	}
	if s.key != nil {
		if err := dns.TsigVerify(p, s.key.secret, mac, false); err != nil {
			return nil, true, fmt.Errorf("%w over UDP: %w", errSOAAnswer, err)
		}
	}
	return r, true, nil
}

// unsigned refuses an answer without TSIG to a signed query (RFC 8945
// §5.3: a primary answers a signed query with a TSIG record, even when it
// rejects the key): believing one would let anyone on the path hold the
// list at a stale serial. miekg/dns verifies a signature only when there
// is one.
func (s *xfrSource) unsigned(r *dns.Msg) error {
	if s.key == nil || r.IsTsig() != nil {
		return nil
	}
	return fmt.Errorf("the primary answered %s without a TSIG signature (check that it has the key)", dns.RcodeToString[r.Rcode])
}

// rcodeErr turns a failure rcode into an error an operator can act on.
func rcodeErr(what string, r *dns.Msg) error {
	if r.Rcode == dns.RcodeSuccess {
		return nil
	}
	msg := fmt.Sprintf("%s: the primary answered %s", what, dns.RcodeToString[r.Rcode])
	if t := r.IsTsig(); t != nil && t.Error != 0 {
		msg += fmt.Sprintf(" with TSIG error %s", dns.RcodeToString[int(t.Error)])
	}
	switch r.Rcode {
	case dns.RcodeNotAuth:
		msg += " (TSIG refused: check the key name, algorithm and secret)"
	case dns.RcodeRefused:
		msg += " (transfer not allowed: check allow-transfer and the TSIG key)"
	}
	return errors.New(msg)
}

// xfrRcode finds the rcode in miekg/dns's transfer error.
var xfrRcode = regexp.MustCompile(`bad xfr rcode: (\d+)`)

// tsigHint explains miekg/dns's TSIG and transfer errors.
func tsigHint(err error) error {
	if m := xfrRcode.FindStringSubmatch(err.Error()); m != nil {
		rc, _ := strconv.Atoi(m[1])
		return rcodeErr("the transfer", &dns.Msg{MsgHdr: dns.MsgHdr{Rcode: rc}})
	}
	if errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrAuth) || errors.Is(err, dns.ErrSecret) || errors.Is(err, dns.ErrKeyAlg) || errors.Is(err, dns.ErrTime) {
		return fmt.Errorf("%w (TSIG: the primary refused our signature or its answer does not verify; check the key name, algorithm and secret)", err)
	}
	return err
}

// transfer runs one AXFR or IXFR query and hands each envelope's records
// to fn, ctx bounding the whole transfer.
func (s *xfrSource) transfer(ctx context.Context, p netip.AddrPort, m *dns.Msg, fn func([]dns.RR) error) error {
	what := dns.TypeToString[m.Question[0].Qtype]
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.String())
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	t := &dns.Transfer{Conn: &dns.Conn{Conn: conn}, TsigSecret: s.tsigSecrets(), ReadTimeout: xfrReadTimeout}
	ch, err := t.In(m, p.String())
	if err != nil {
		conn.Close()
		return fmt.Errorf("%s: %w", what, tsigHint(err))
	}
	var ferr error
	for env := range ch {
		if ferr != nil {
			continue // drain: In closes the channel after closing the conn
		}
		if env.Error != nil {
			ferr = fmt.Errorf("%s: %w", what, tsigHint(env.Error))
			if ctx.Err() != nil {
				ferr = fmt.Errorf("%s: %w", what, ctx.Err())
			}
			conn.Close()
			continue
		}
		if err := fn(env.RR); err != nil {
			ferr = fmt.Errorf("%s: %w", what, err)
			conn.Close()
		}
	}
	return ferr
}

// axfr transfers the whole zone from p and makes it current.
func (s *xfrSource) axfr(ctx context.Context, p netip.AddrPort) error {
	m := new(dns.Msg)
	m.SetAxfr(s.zone)
	s.sign(m)
	var buf bytes.Buffer
	var soa *dns.SOA
	done := false
	err := s.transfer(ctx, p, m, func(rrs []dns.RR) error {
		for _, rr := range rrs {
			if done {
				return errors.New("records after the closing SOA")
			}
			if x, ok := rr.(*dns.SOA); ok {
				if soa == nil {
					soa = x
					buf.WriteString(zoneLine(x))
					buf.WriteByte('\n')
					continue
				}
				done = true
				continue
			}
			if soa == nil {
				return errors.New("the transfer does not start with the SOA")
			}
			buf.WriteString(zoneLine(rr))
			buf.WriteByte('\n')
			if s.maxSize > 0 && int64(buf.Len()) > s.maxSize {
				return fmt.Errorf("the zone is larger than max_size %d bytes", s.maxSize)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if soa == nil || !done {
		return errors.New("AXFR: the transfer ended before the closing SOA")
	}
	s.mu.Lock()
	s.body, s.soa = buf.Bytes(), soa
	s.mu.Unlock()
	s.log.Info("zone transferred (AXFR)", "feed", s.name, "zone", s.zone, "primary", p.String(), "serial", soa.Serial, "bytes", buf.Len())
	return nil
}

// errIxfrMismatch says an IXFR does not start from the serial in hand.
var errIxfrMismatch = errors.New("the incremental transfer does not start at our serial")

// ixfr asks p for the changes since cur and applies them. A primary that
// answers with the whole zone instead (RFC 1995 §4) is fine too.
func (s *xfrSource) ixfr(ctx context.Context, p netip.AddrPort, cur *dns.SOA) error {
	m := new(dns.Msg)
	m.SetIxfr(s.zone, cur.Serial, cur.Ns, cur.Mbox)
	s.sign(m)
	var rrs []dns.RR
	var size int64
	err := s.transfer(ctx, p, m, func(in []dns.RR) error {
		for _, rr := range in {
			size += int64(dns.Len(rr))
			if s.maxSize > 0 && size > s.maxSize {
				return fmt.Errorf("the transfer is larger than max_size %d bytes", s.maxSize)
			}
		}
		rrs = append(rrs, in...)
		return nil
	})
	if err != nil {
		return err
	}
	d, err := readIXFR(cur.Serial, rrs)
	switch {
	case err != nil:
		return err
	case d.upToDate:
		return nil
	case d.full:
		return s.fullFromIXFR(p, rrs)
	}
	final, net, deltas := d.final, d.net, d.deltas
	s.mu.Lock()
	s.body, s.soa = applyDelta(s.body, final, net), final
	body := s.body
	s.mu.Unlock()
	size = int64(len(body))
	if s.onDelta != nil {
		s.onDelta(net, body)
	}
	s.log.Info("zone updated (IXFR)", "feed", s.name, "zone", s.zone, "primary", p.String(),
		"serial", final.Serial, "from", cur.Serial, "deltas", deltas, "changes", len(net), "bytes", size)
	return nil
}

// ixfrDelta is what an IXFR answer says.
type ixfrDelta struct {
	upToDate bool // one SOA: nothing newer than the serial asked
	full     bool // the whole zone, AXFR-style (RFC 1995 §4)
	final    *dns.SOA
	net      map[string]bool // zone line -> present after the changes
	deltas   int
}

// readIXFR reads an IXFR answer's records for a zone at serial from:
// [SOA new] alone; or the whole zone; or the changes, each [SOA old,
// deletions, SOA new, additions], then SOA new again.
func readIXFR(from uint32, rrs []dns.RR) (ixfrDelta, error) {
	var d ixfrDelta
	if len(rrs) == 0 {
		return d, errors.New("IXFR: empty answer")
	}
	final, ok := rrs[0].(*dns.SOA)
	if !ok {
		return d, errors.New("IXFR: the answer does not start with the SOA")
	}
	d.final = final
	if len(rrs) == 1 {
		d.upToDate = true
		return d, nil
	}
	if _, ok := rrs[1].(*dns.SOA); !ok {
		d.full = true
		return d, nil
	}
	d.net = map[string]bool{}
	i := 1
	for i < len(rrs)-1 {
		old, ok := rrs[i].(*dns.SOA)
		if !ok || old.Serial != from {
			return d, errIxfrMismatch
		}
		for i++; i < len(rrs) && rrs[i].Header().Rrtype != dns.TypeSOA; i++ {
			d.net[zoneLine(rrs[i])] = false
		}
		if i >= len(rrs) {
			return d, errors.New("IXFR: a deletion list is not followed by the new SOA")
		}
		nw := rrs[i].(*dns.SOA)
		for i++; i < len(rrs) && rrs[i].Header().Rrtype != dns.TypeSOA; i++ {
			d.net[zoneLine(rrs[i])] = true
		}
		from = nw.Serial
		d.deltas++
	}
	if i != len(rrs)-1 || from != final.Serial {
		return d, errors.New("IXFR: the changes do not end at the primary's serial")
	}
	return d, nil
}

// fullFromIXFR takes an IXFR answered as a whole zone.
func (s *xfrSource) fullFromIXFR(p netip.AddrPort, rrs []dns.RR) error {
	soa := rrs[0].(*dns.SOA)
	last, ok := rrs[len(rrs)-1].(*dns.SOA)
	if !ok || last.Serial != soa.Serial {
		return errors.New("IXFR: a full-zone answer without its closing SOA")
	}
	var buf bytes.Buffer
	buf.WriteString(zoneLine(soa))
	buf.WriteByte('\n')
	for _, rr := range rrs[1 : len(rrs)-1] {
		if rr.Header().Rrtype == dns.TypeSOA {
			return errors.New("IXFR: an SOA inside a full-zone answer")
		}
		buf.WriteString(zoneLine(rr))
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	s.body, s.soa = buf.Bytes(), soa
	s.mu.Unlock()
	s.log.Info("zone transferred (IXFR answered with the whole zone)", "feed", s.name, "zone", s.zone, "primary", p.String(), "serial", soa.Serial)
	return nil
}

// applyDelta returns body with its SOA line replaced by soa, the lines net
// maps to false removed and those it maps to true present once. Added
// lines go beside their owner's other lines, and new owners' lines follow
// in name order: the RPZ parser reads an owner's records as one trigger
// only when they are adjacent, as a primary sends them, so the rebuilt
// table must see the same RRsets the overlay did (docs/ARCHITECTURE.md,
// feeds).
func applyDelta(body []byte, soa *dns.SOA, net map[string]bool) []byte {
	adds := map[string][]string{} // owner -> its added lines, sorted
	for line, add := range net {
		if add {
			o := lineOwner(line)
			adds[o] = append(adds[o], line)
		}
	}
	for _, l := range adds {
		slices.Sort(l)
	}
	out := make([]byte, 0, len(body)+64*len(net))
	out = append(out, zoneLine(soa)...)
	out = append(out, '\n')
	seen := map[string]bool{}
	addOwner := func(owner string) {
		for _, l := range adds[owner] {
			if !seen[l] {
				seen[l] = true
				out = append(out, l...)
				out = append(out, '\n')
			}
		}
		delete(adds, owner)
	}
	// Past the old SOA line; run is the owner of the lines just written.
	_, rest, _ := bytes.Cut(body, []byte{'\n'})
	run := ""
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		if o := lineOwner(string(line)); o != run {
			addOwner(run)
			run = o
		}
		if keep, ok := net[string(line)]; ok {
			if !keep || seen[string(line)] {
				continue
			}
			seen[string(line)] = true
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	addOwner(run)
	for _, o := range slices.Sorted(maps.Keys(adds)) {
		addOwner(o)
	}
	return out
}

// lineOwner returns the owner name of a zone line as zoneLine writes it.
func lineOwner(line string) string {
	if i := strings.IndexAny(line, "\t "); i >= 0 {
		return line[:i]
	}
	return line
}

// zoneLine renders rr as one canonical master-file line: TTL 0 (RPZ
// answers use blocking.ttl, and an IXFR deletion matches a record by
// name, type and data only), lower case (names compare case-blind).
func zoneLine(rr dns.RR) string {
	h := rr.Header()
	ttl := h.Ttl
	h.Ttl = 0
	line := strings.ToLower(rr.String())
	h.Ttl = ttl
	return strings.ReplaceAll(line, "\n", " ")
}

// ---- persistence ----

// loadSavedLocked reads the zone the Manager cached (its body is this
// source's text), if it is the version stamp names; its meta file tells
// when a primary last confirmed it, for the expire timer.
func (s *xfrSource) loadSavedLocked(stamp string) {
	if s.cachePath == "" {
		return
	}
	body, err := os.ReadFile(s.cachePath + cacheBodyExt)
	if err != nil {
		return
	}
	first, _, _ := bytes.Cut(body, []byte("\n"))
	rr, err := dns.NewRR(string(first))
	soa, ok := rr.(*dns.SOA)
	if err != nil || !ok || serialStamp(soa.Serial) != stamp || !strings.EqualFold(soa.Hdr.Name, s.zone) {
		s.log.Info("saved zone does not match the cached copy; transferring it whole", "feed", s.name, "zone", s.zone)
		return
	}
	s.body, s.soa = body, soa
	if b, err := os.ReadFile(s.cachePath + cacheMetaExt); err == nil {
		var meta cacheMeta
		if json.Unmarshal(b, &meta) == nil {
			s.lastOK = meta.Checked
		}
	}
	if s.lastOK.IsZero() {
		s.lastOK = s.clock.Now()
	}
	s.log.Info("zone loaded from the cache", "feed", s.name, "zone", s.zone, "serial", soa.Serial, "last_confirmed", s.lastOK)
}

// adoptFrom takes over the zone of the running source of the same list (a
// config reload), so that the next check is an IXFR.
func (s *xfrSource) adoptFrom(old Source) {
	o, ok := old.(*xfrSource)
	if !ok || o.zone != s.zone {
		return
	}
	o.mu.Lock()
	body, soa, lastOK, expired := o.body, o.soa, o.lastOK, o.expired
	o.mu.Unlock()
	s.mu.Lock()
	s.body, s.soa, s.lastOK, s.expired = body, soa, lastOK, expired
	s.mu.Unlock()
}

// serial returns the serial in hand, for NOTIFY logs and tests.
func (s *xfrSource) serial() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.soa == nil {
		return 0, false
	}
	return s.soa.Serial, true
}

// isPrimary reports whether a is the address of one of the primaries.
func (s *xfrSource) isPrimary(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.primaries {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// attach gives the source the Manager's logger, clock, metrics and the
// path of its cached copy.
func (s *xfrSource) attach(m *Manager) {
	s.log, s.clock, s.met = m.log.With("source", "axfr"), m.clock, m.met
	s.onDelta = func(net map[string]bool, body []byte) { m.publishDelta(s, net, body) }
	if m.cacheDir != "" {
		s.cachePath = (&diskCache{dir: m.cacheDir}).base(s.name)
	}
}
