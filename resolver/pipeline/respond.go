package pipeline

import (
	"context"
	"errors"
	"net/netip"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// respond runs one packet through the chain: parse, chain, finish, pack.
func (p *Pipeline) respond(ctx context.Context, pkt []byte, client netip.AddrPort, proto query.Proto, id string, out []byte) ([]byte, outcome) {
	cr := new(chainRequest) // the query, the request and its wire answer: one allocation
	msg := &cr.msg
	if err := msg.Unpack(pkt); err != nil {
		p.metrics.countMalformed()
		if b := formerr(pkt, out); b != nil {
			return b, outcome{rcode: dns.RcodeFormatError}
		}
		return nil, dropped
	}
	if msg.Response {
		// Never answer an answer: that is how reflection loops start.
		p.metrics.countMalformed()
		return nil, dropped
	}
	req := &cr.req
	req.Init(msg, client, proto)
	// The cache may answer into out in wire form, if the policy lets it.
	cr.wire.Buf = out[:0]
	req.Wire = &cr.wire
	req.Tenant = p.tenants.selectTenant(client.Addr(), id, msg)
	p.metrics.countQuery(proto, req.Question.Qtype)
	drop := outcome{qname: req.Question.Name, qtype: req.Question.Qtype, rcode: -1, tenant: req.Tenant}
	resp, ok := p.resolve(ctx, req)
	drop.decision = req.Decided
	if !ok {
		return nil, drop
	}
	limit := dns.MaxMsgSize
	if proto == query.ProtoUDP {
		limit = min(int(req.UDPSize), p.udpSize)
	}
	if resp == nil { // the cache's answer, in wire form: shaped as finish shapes a message
		b := shapeWire(req.Wire.Buf, 0, dnswire.Flags(pkt), req.EDNS, req.DO, p.udpSize)
		if len(b) <= limit {
			return b, outcome{qname: req.Question.Name, qtype: req.Question.Qtype, rcode: dnswire.Rcode(b),
				answers: answerCount(b), decision: req.Decided, tenant: req.Tenant}
		}
		// Too large for the client: decoded and packed again, so that the
		// cut between records is made in a message whose compression
		// points only backwards (an upstream's need not), as before.
		if resp = new(dns.Msg); resp.Unpack(b) != nil {
			resp = rcodeMsg(dns.RcodeServerFailure)
		}
	}
	finish(req, resp, p.udpSize)
	b, err := pack(resp, out, limit)
	if err != nil {
		p.logger.Warn("cannot pack answer", "qname", req.Question.Name, "err", err)
		resp = rcodeMsg(dns.RcodeServerFailure)
		finish(req, resp, p.udpSize)
		if b, err = pack(resp, out, limit); err != nil {
			return nil, drop
		}
	}
	return b, outcome{qname: req.Question.Name, qtype: req.Question.Qtype, rcode: resp.Rcode, answers: answerCount(b),
		decision: req.Decided, tenant: req.Tenant}
}

// chainRequest is a query, its request and the room for its wire answer,
// allocated together.
type chainRequest struct {
	msg  dns.Msg
	req  query.Request
	wire query.WireAnswer
}

// answerCount is the ANCOUNT of the answer b as sent (after truncation).
func answerCount(b []byte) int {
	if len(b) < dnswire.HeaderLen {
		return 0
	}
	_, an, _, _ := dnswire.Counts(b)
	return int(an)
}

// resolve asks the chain; ok is false when no answer must be sent (the
// drop action, or a query abandoned at shutdown). A failure is SERVFAIL,
// with EDE 22 (no reachable authority) for EDNS clients. A nil message
// with ok is an answer the cache gave in wire form (req.Wire).
func (p *Pipeline) resolve(ctx context.Context, req *query.Request) (_ *dns.Msg, ok bool) {
	p.active.Add(1)
	resp, err := p.chain.Resolve(ctx, req)
	p.active.Add(-1)
	switch {
	case err == nil && resp == nil && req.Wire != nil && req.Wire.Served:
		return nil, true
	case errors.Is(err, query.ErrDrop):
		return nil, false
	case err != nil:
		if ctx.Err() != nil {
			return nil, false
		}
		p.logger.Debug("query failed", "qname", req.Question.Name, "qtype", dns.Type(req.Question.Qtype).String(), "err", err)
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
	return resp, true
}

// formerr answers a packet that does not parse: FORMERR with the client's
// ID if at least a query header is there, otherwise nothing.
func formerr(pkt []byte, out []byte) []byte {
	if len(pkt) < dnswire.HeaderLen || dnswire.Flags(pkt)&dnswire.FlagQR != 0 {
		return nil
	}
	resp := new(dns.Msg)
	resp.Id = dnswire.ID(pkt)
	resp.Response = true
	resp.Opcode = dnswire.Opcode(dnswire.Flags(pkt))
	resp.Rcode = dns.RcodeFormatError
	b, err := resp.PackBuffer(out[:cap(out)])
	if err != nil {
		return nil
	}
	return b
}

// finish shapes resp for the client of req: its ID, opcode, RD bit and
// question (with the client's own letter case), RA set, AA clear, and an OPT record
// only if the client sent one — carrying our own size and the client's DO
// bit, and only the options our own chain added (EDE), never an upstream's.
func finish(req *query.Request, resp *dns.Msg, udpSize int) {
	q := req.Msg
	resp.Id = q.Id
	resp.Response = true
	resp.Opcode = q.Opcode
	resp.RecursionDesired = q.RecursionDesired
	resp.RecursionAvailable = true
	// A resolver is not the authority for what it relays (RFC 1035 §4.1.1).
	resp.Authoritative = false
	resp.CheckingDisabled = q.CheckingDisabled
	if !dnswire.WantsAD(q.AuthenticatedData, req.DO) {
		resp.AuthenticatedData = false
	}
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

// pack packs resp into out, truncating it (TC=1) to limit bytes if needed,
// as the wire answers are (truncate).
func pack(resp *dns.Msg, out []byte, limit int) ([]byte, error) {
	b, err := resp.PackBuffer(out[:cap(out)])
	if err != nil || len(b) <= limit {
		return b, err
	}
	return truncate(b, 0, limit), nil
}
