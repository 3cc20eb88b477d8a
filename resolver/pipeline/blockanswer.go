package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// block answers req as decision d says, on the chain: counted and logged,
// then the answer of the one block encoder (dnswire.AppendBlock), unpacked
// so that finish shapes it like any other answer.
func (p *Policy) block(ctx context.Context, req *query.Request, d query.Decision) (*dns.Msg, error) {
	q := req.Question
	req.Decided = d
	p.record(time.Now(), req.Client.Addr(), req.Proto, q.Qtype, dnswire.Canonical(q.Name), d, nil)
	switch d.Match.Payload.Action {
	case blocklist.ActionDrop:
		return nil, query.ErrDrop
	case blocklist.ActionLocal:
		if resp, ok, err := p.localAnswer(ctx, req, d); ok || err != nil { // localdata.go
			if resp != nil {
				blockedEDE(resp, req, listOf(&d).Name)
			}
			return resp, err
		}
		d.Match.Payload.Action = blocklist.ActionNoData // no record of the asked type
	}
	matched := q.Name
	if d.CNAME != "" {
		matched = d.CNAME
	}
	var qbuf [dnswire.MaxNameLen + 5]byte
	qwire, owner, err := questionWire(qbuf[:0], q, d.Match.RuleName(matched))
	if err != nil {
		return nil, err
	}
	list := listOf(&d)
	b := dnswire.Block{ID: req.Msg.Id, Question: qwire, QType: q.Qtype, Owner: owner,
		Action: d.Match.Payload.Action, Sinkhole: list.Sinkhole, TTL: p.ttl,
		EDNS: req.EDNS, DO: req.DO, UDPSize: dns.DefaultMsgSize, List: list.Name}
	resp := new(dns.Msg)
	if err := resp.Unpack(dnswire.AppendBlock(make([]byte, 0, 512), &b)); err != nil {
		return nil, err
	}
	return resp, nil
}

// questionWire packs q as a question section into buf (room for the
// longest name, which the guard let through) and finds the SOA owner of a
// negative block answer in it: the blocked zone when that is the query
// name or one of its parents, otherwise (a blocked CNAME target) the
// query name itself, so that it is always in the query's bailiwick. The
// owner is the offset of its label in the question, -1 for the root.
func questionWire(buf []byte, q dns.Question, zone string) ([]byte, int, error) {
	buf = buf[:cap(buf)]
	n, err := dns.PackDomainName(q.Name, buf, 0, nil, false)
	if err != nil || n+4 > len(buf) {
		return nil, 0, fmt.Errorf("block answer for %q: the name does not pack: %v", q.Name, err)
	}
	w := append(buf[:n], byte(q.Qtype>>8), byte(q.Qtype), byte(q.Qclass>>8), byte(q.Qclass))
	zone = dns.Fqdn(zone)
	if !dns.IsSubDomain(zone, q.Name) {
		return w, 0, nil
	}
	skip := dns.CountLabel(q.Name) - dns.CountLabel(zone)
	off := 0
	for ; skip > 0 && w[off] != 0; skip-- {
		off += 1 + int(w[off])
	}
	if w[off] == 0 {
		return w, -1, nil
	}
	return w, off, nil
}
