package resolver

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// handler turns one query packet into one answer packet: parse, run the
// chain, then shape the answer for this client (ID, flags, question, EDNS,
// size). Listeners share one handler.
type handler struct {
	// cur is the chain and settings in force; a reload swaps it, and a
	// query reads it once, so it is answered by one configuration.
	cur     atomic.Pointer[route]
	metrics *Metrics
	logger  *slog.Logger
	// observer is nil unless a query log or dnstap is configured; a nil
	// check is all observing costs when it is off.
	observer atomic.Pointer[observerBox]
	// notify answers NOTIFY messages (notify.go); nil: NOTIMP.
	notify atomic.Pointer[notifyBox]
}

// outcome is what the observers learn from answering one packet.
type outcome struct {
	q       dns.Question // zero when the packet did not parse
	rcode   int          // -1: nothing sent
	answers int
}

var dropped = outcome{rcode: -1}

// serve answers pkt. It appends the answer to out and returns it, or returns
// nil when no answer must be sent (drop action, unparsable junk, responses
// sent to us).
func (h *handler) serve(ctx context.Context, pkt []byte, client netip.AddrPort, proto Proto, out []byte) []byte {
	start := time.Now()
	b, o := h.respond(ctx, h.cur.Load(), pkt, client, proto, out, start)
	if box := h.observer.Load(); box != nil {
		box.o.Observe(QueryEvent{
			Received: start, Duration: time.Since(start), Client: client, Proto: proto,
			Query: pkt, Response: b, QName: o.q.Name, QType: o.q.Qtype, Rcode: o.rcode, Answers: o.answers,
		})
	}
	return b
}

func (h *handler) respond(ctx context.Context, r *route, pkt []byte, client netip.AddrPort, proto Proto, out []byte, start time.Time) ([]byte, outcome) {
	msg := new(dns.Msg)
	if err := msg.Unpack(pkt); err != nil {
		h.metrics.countMalformed()
		b := h.formerr(pkt, out, start)
		if b == nil {
			return nil, dropped
		}
		return b, outcome{rcode: dns.RcodeFormatError}
	}
	if msg.Response {
		// Never answer an answer: that is how reflection loops start.
		h.metrics.countMalformed()
		h.metrics.countDropped(time.Since(start).Seconds())
		return nil, dropped
	}
	if b, ok := h.answerNotify(pkt, msg, client, proto); ok { // NOTIFY hook (notify.go)
		return b, outcome{rcode: -1}
	}
	req := NewRequest(msg, client, proto)
	h.metrics.countQuery(proto, req.Question.Qtype)
	drop := outcome{q: req.Question, rcode: -1}

	resp, err := r.chain.Resolve(ctx, req)
	switch {
	case errors.Is(err, ErrDrop):
		h.metrics.countDropped(time.Since(start).Seconds())
		return nil, drop
	case err != nil:
		if ctx.Err() != nil {
			h.metrics.countDropped(time.Since(start).Seconds())
			return nil, drop
		}
		h.logger.Debug("query failed", "qname", req.Question.Name, "qtype", dns.Type(req.Question.Qtype).String(), "err", err)
		resp = rcodeMsg(dns.RcodeServerFailure)
		if req.EDNS {
			resp.Extra = append(resp.Extra, &dns.OPT{
				Hdr:    dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT},
				Option: []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority}},
			})
		}
	case resp == nil:
		resp = rcodeMsg(dns.RcodeServerFailure)
	}
	finish(req, resp, r.cfg.UDPSize)
	limit := dns.MaxMsgSize
	if proto == ProtoUDP {
		limit = int(req.UDPSize)
		if limit > r.cfg.UDPSize {
			limit = r.cfg.UDPSize
		}
	}
	b, err := pack(resp, out, limit)
	if err != nil {
		h.logger.Warn("cannot pack answer", "qname", req.Question.Name, "err", err)
		resp = rcodeMsg(dns.RcodeServerFailure)
		finish(req, resp, r.cfg.UDPSize)
		if b, err = pack(resp, out, limit); err != nil {
			h.metrics.countDropped(time.Since(start).Seconds())
			return nil, drop
		}
	}
	h.metrics.countResponse(resp.Rcode, time.Since(start).Seconds())
	return b, outcome{q: req.Question, rcode: resp.Rcode, answers: len(resp.Answer)}
}

// formerr answers a packet that does not parse: FORMERR with the client's
// ID if at least a query header is there, otherwise nothing.
func (h *handler) formerr(pkt []byte, out []byte, start time.Time) []byte {
	if len(pkt) < 12 || pkt[2]&0x80 != 0 { // too short, or QR set
		h.metrics.countDropped(time.Since(start).Seconds())
		return nil
	}
	resp := new(dns.Msg)
	resp.Id = uint16(pkt[0])<<8 | uint16(pkt[1])
	resp.Response = true
	resp.Opcode = int(pkt[2]>>3) & 0xF
	resp.Rcode = dns.RcodeFormatError
	b, err := resp.PackBuffer(out[:cap(out)])
	if err != nil {
		h.metrics.countDropped(time.Since(start).Seconds())
		return nil
	}
	h.metrics.countResponse(dns.RcodeFormatError, time.Since(start).Seconds())
	return b
}

// finish shapes resp for the client of req: its ID, opcode, RD bit and
// question (with the client's own letter case), RA set, AA clear, and an OPT record
// only if the client sent one — carrying our own size and the client's DO
// bit, and only the options our own chain added (EDE), never an upstream's.
func finish(req *Request, resp *dns.Msg, udpSize int) {
	q := req.Msg
	resp.Id = q.Id
	resp.Response = true
	resp.Opcode = q.Opcode
	resp.RecursionDesired = q.RecursionDesired
	resp.RecursionAvailable = true
	// A resolver is not the authority for what it relays (RFC 1035 §4.1.1).
	resp.Authoritative = false
	resp.CheckingDisabled = q.CheckingDisabled
	resp.Question = q.Question
	resp.Compress = true

	var ours *dns.OPT
	extra := resp.Extra[:0]
	for _, rr := range resp.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			ours = opt
			continue
		}
		extra = append(extra, rr)
	}
	resp.Extra = extra
	if !req.EDNS {
		if resp.Rcode > 0xF {
			resp.Rcode = dns.RcodeServerFailure
		}
		return
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	if ours != nil {
		opt.Option = ours.Option
	}
	opt.SetUDPSize(uint16(udpSize))
	opt.SetDo(req.DO)
	resp.Extra = append(resp.Extra, opt)
}

// pack packs resp into out, truncating it (TC=1) to limit bytes if needed.
func pack(resp *dns.Msg, out []byte, limit int) ([]byte, error) {
	b, err := resp.PackBuffer(out[:cap(out)])
	if err != nil || len(b) <= limit {
		return b, err
	}
	resp.Truncate(limit)
	return resp.PackBuffer(out[:cap(out)])
}

// slogErrorLog routes net/http's internal errors (TLS handshake failures
// from scanners, mostly) to the debug log instead of stderr.
func slogErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelDebug)
}
