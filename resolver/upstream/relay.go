package upstream

import (
	"errors"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/miekg/dns"
)

// relay checks the shape of a reply that matched its query and returns a
// copy of it without its OPT record — the upstream's options (NSID,
// cookies, padding, EDE) are for us, and the responder writes the
// client's own OPT — with the reply's rcode, the OPT's extended bits
// included. The bytes are otherwise the upstream's: the cache stores them
// as received and decodes them once (docs/ARCHITECTURE.md, the miss path).
// ok is false for a reply that is not shaped like a DNS message or has
// more than one OPT record (RFC 6891 §6.1.1): the caller treats it as it
// treats any forged or broken packet.
func relay(reply []byte) (wire []byte, rcode int, ok bool) {
	opts, optAt, optEnd := 0, 0, 0
	ext := 0
	end, ok := dnswire.Walk(reply, func(r dnswire.RR) bool {
		if r.Type != dns.TypeOPT {
			return true
		}
		opts++
		optAt, optEnd = r.Owner, r.End()
		ext = int(reply[r.TTL]) // the extended rcode's upper eight bits
		return r.Section == dnswire.SectionAdditional && reply[r.Owner] == 0 && opts == 1
	})
	if !ok {
		return nil, 0, false
	}
	reply = reply[:end] // octets after the last record are no part of the answer
	rcode = dnswire.Rcode(reply) | ext<<4
	switch {
	case opts == 0:
		return append([]byte(nil), reply...), rcode, true
	case optEnd != end:
		// Records after the OPT may point into names behind it: re-encode.
		return repack(reply, rcode)
	}
	wire = append([]byte(nil), reply[:optAt]...)
	qd, an, ns, ar := dnswire.Counts(wire)
	dnswire.SetCounts(wire, qd, an, ns, ar-1)
	return wire, rcode, true
}

// repack is relay for the rare reply whose OPT is not its last record.
func repack(reply []byte, rcode int) ([]byte, int, bool) {
	msg := new(dns.Msg)
	if msg.Unpack(reply) != nil {
		return nil, 0, false
	}
	stripOPT(msg)
	msg.Rcode &= 0xF // the extended bits were the OPT's; rcode keeps them
	msg.Compress = true
	wire, err := msg.Pack()
	if err != nil {
		return nil, 0, false
	}
	return wire, rcode, true
}

// errMalformed: a reply over a stream or HTTPS that matched the query but
// is not shaped like a DNS message.
var errMalformed = errors.New("malformed reply")

// truncated reports whether reply has TC set.
func truncated(reply []byte) bool { return dnswire.Flags(reply)&dnswire.FlagTC != 0 }
