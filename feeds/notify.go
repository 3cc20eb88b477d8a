package feeds

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// NOTIFY refusals: Notify's errors, each answered with its own rcode.
var (
	// ErrNotifyUnknownZone: no list transfers the zone named.
	ErrNotifyUnknownZone = errors.New("no axfr:// list transfers this zone")
	// ErrNotifyNotPrimary: the sender is not one of the zone's primaries.
	ErrNotifyNotPrimary = errors.New("the sender is not one of the zone's primaries")
	// ErrNotifyTSIG: the zone has a key and the NOTIFY was not signed
	// with it, or its signature does not verify.
	ErrNotifyTSIG = errors.New("the NOTIFY is not signed with the zone's TSIG key")
)

// Notify takes a NOTIFY (RFC 1996) for zone from the address from; keyName
// is the TSIG key that signed it and verified ("" if unsigned). If the
// zone is one a list transfers and the sender one of its primaries (and
// the key the zone's key, when it has one), the list checks its primary's
// SOA at once and transfers the change (IXFR); several NOTIFYs before
// that check coalesce into it.
func (m *Manager) Notify(zone string, from netip.Addr, keyName string) error {
	f, s := m.xfrFeed(zone)
	if f == nil {
		m.met().notify("", notifyUnknown)
		return ErrNotifyUnknownZone
	}
	switch {
	case !s.isPrimary(from):
		m.met().notify(s.name, notifyNotPrimary)
		return ErrNotifyNotPrimary
	case s.key != nil && !strings.EqualFold(dns.Fqdn(keyName), s.key.name):
		m.met().notify(s.name, notifyBadTSIG)
		return ErrNotifyTSIG
	}
	m.met().notify(s.name, notifyAccepted)
	select {
	case f.kick <- struct{}{}:
	default: // a check is already due
	}
	return nil
}

// xfrFeed finds the list that transfers zone.
func (m *Manager) xfrFeed(zone string) (*feed, *xfrSource) {
	zone = strings.ToLower(dns.Fqdn(zone))
	for _, f := range m.feeds {
		if s, ok := f.spec.src.(*xfrSource); ok && s.zone == zone {
			return f, s
		}
	}
	return nil, nil
}

// HandleNotify answers a NOTIFY message that arrived on a DNS listener:
// pkt is the message as received (TSIG is verified over its bytes), msg
// the same parsed, from the sender. The answer echoes the question with
// NOERROR, AA and opcode NOTIFY, signed with the zone's key when the
// NOTIFY was; a refusal is REFUSED (unknown zone, not a primary) or
// NOTAUTH (TSIG), and logged. It is a resolver.NotifyHandler.
func (m *Manager) HandleNotify(pkt []byte, msg *dns.Msg, from netip.Addr) []byte {
	r := new(dns.Msg)
	r.SetReply(msg)
	r.Authoritative = true
	if len(msg.Question) != 1 || msg.Question[0].Qclass != dns.ClassINET {
		r.Rcode = dns.RcodeFormatError
		return packNotify(r, nil, "")
	}
	zone := msg.Question[0].Name
	_, s := m.xfrFeed(zone)
	var key *tsigKey
	keyName, mac := "", ""
	if t := msg.IsTsig(); t != nil && s != nil && s.key != nil {
		if strings.EqualFold(t.Hdr.Name, s.key.name) {
			// TsigVerify rewrites the buffer it checks; pkt is the listener's.
			if err := dns.TsigVerify(slices.Clone(pkt), s.key.secret, "", false); err == nil {
				keyName, key, mac = s.key.name, s.key, t.MAC
			} else {
				m.log.Warn("NOTIFY refused: TSIG does not verify", "zone", zone, "from", from, "key", t.Hdr.Name, "err", err)
			}
		}
	}
	err := m.Notify(zone, from, keyName)
	switch {
	case err == nil:
		serial, _ := s.serial()
		m.log.Info("NOTIFY accepted; checking the primary", "feed", s.name, "zone", zone, "from", from, "serial_in_hand", serial)
	case errors.Is(err, ErrNotifyTSIG):
		r.Rcode = dns.RcodeNotAuth
		m.log.Warn("NOTIFY refused", "zone", zone, "from", from, "reason", err)
	default:
		r.Rcode = dns.RcodeRefused
		m.log.Warn("NOTIFY refused", "zone", zone, "from", from, "reason", err)
	}
	return packNotify(r, key, mac)
}

// packNotify packs a NOTIFY answer, signed with key when the NOTIFY was
// (requestMAC is its MAC, RFC 8945 §5.3).
func packNotify(r *dns.Msg, key *tsigKey, requestMAC string) []byte {
	if key == nil {
		b, err := r.Pack()
		if err != nil {
			return nil
		}
		return b
	}
	r.SetTsig(key.name, key.algorithm, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(r, key.secret, requestMAC, false)
	if err != nil {
		return nil
	}
	return b
}
