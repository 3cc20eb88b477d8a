package resolver

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// NotifyHandler answers DNS NOTIFY messages (RFC 1996): a primary telling
// Bulwark that a zone it transfers (an RPZ feed) has changed. feeds.Manager
// is one. The handler verifies TSIG over the message's bytes, so it gets
// them as received.
type NotifyHandler interface {
	// HandleNotify returns the packed answer to pkt (msg parsed), sent by
	// from, or nil to send none.
	HandleNotify(pkt []byte, msg *dns.Msg, from netip.Addr) []byte
}

type notifyBox struct{ h NotifyHandler }

// SetNotifyHandler makes the DNS listeners (UDP and TCP) hand NOTIFY
// messages to n; with nil, the default, the pipeline's guard answers them
// NOTIMP as any other opcode it does not serve. It is safe while serving.
func (s *Server) SetNotifyHandler(n NotifyHandler) {
	if n == nil {
		s.h.notify.Store(nil)
		return
	}
	s.h.notify.Store(&notifyBox{n})
}

// answerNotify hands a NOTIFY to the handler; ok is false for any other
// message, when no handler is set, and on DoT and DoH, which primaries do
// not use. It looks at the header's opcode before parsing anything, so a
// query costs one comparison.
func (h *handler) answerNotify(pkt []byte, client netip.AddrPort, proto query.Proto) ([]byte, bool) {
	if len(pkt) < dnswire.HeaderLen || dnswire.Opcode(dnswire.Flags(pkt)) != dns.OpcodeNotify ||
		(proto != query.ProtoUDP && proto != query.ProtoTCP) {
		return nil, false
	}
	box := h.notify.Load()
	if box == nil {
		return nil, false
	}
	msg := new(dns.Msg)
	if err := msg.Unpack(pkt); err != nil || msg.Response {
		return nil, false // the pipeline answers junk and ignores answers
	}
	return box.h.HandleNotify(pkt, msg, client.Addr()), true
}
