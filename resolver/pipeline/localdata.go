package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/bulwark-dns/bulwark/resolver/query"
)

// localAnswer answers an RPZ local-data rule: a CNAME rewrite (the walled
// garden) is answered with the CNAME and the garden's own answer, resolved
// below the policy so that the garden is never itself blocked; other data
// with its records of the asked type. ok is false when the rule holds no
// record of that type, for the caller's NODATA.
func (p *Policy) localAnswer(ctx context.Context, req *query.Request, d query.Decision) (_ *dns.Msg, ok bool, _ error) {
	q := req.Question
	resp := new(dns.Msg)
	resp.SetReply(req.Msg)
	for _, l := range d.Table.LocalData(d.Match.Payload) {
		if l.Type == dns.TypeCNAME {
			return p.rewrite(ctx, req, l.Data)
		}
		if q.Qtype != l.Type && q.Qtype != dns.TypeANY {
			continue
		}
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", q.Name, p.ttl, dns.Type(l.Type), l.Data))
		if err != nil || rr == nil {
			return nil, false, fmt.Errorf("local data of list %q: %s %q: %v", listOf(&d).Name, dns.Type(l.Type), l.Data, err)
		}
		resp.Answer = append(resp.Answer, rr)
	}
	for _, a := range d.Table.SinkholeAddrs(d.Match.Payload) {
		a = a.Unmap()
		switch {
		case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			resp.Answer = append(resp.Answer, &dns.A{Hdr: rrHeader(q.Name, dns.TypeA, p.ttl), A: a.AsSlice()})
		case a.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: rrHeader(q.Name, dns.TypeAAAA, p.ttl), AAAA: a.AsSlice()})
		}
	}
	return resp, len(resp.Answer) > 0, nil
}

// blockedEDE gives a local-data answer the EDE 15 (Blocked) naming the
// list that every other block answer carries (dnswire.AppendBlock), so a
// client or collector can tell the walled garden from the real answer. A
// client without EDNS gets no OPT.
func blockedEDE(resp *dns.Msg, req *query.Request, list string) {
	if !req.EDNS {
		return
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeBlocked, ExtraText: dnswire.BlockedText + list})
	resp.Extra = append(resp.Extra, opt)
}

func rrHeader(name string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}

// rewrite answers the query with a CNAME to target and target's answer.
// "*.garden." prepends the query name (RPZ's wildcard rewrite).
func (p *Policy) rewrite(ctx context.Context, req *query.Request, target string) (*dns.Msg, bool, error) {
	q := req.Question
	if rest, ok := strings.CutPrefix(target, "*."); ok {
		target = dns.Fqdn(q.Name) + rest
	}
	if _, ok := dns.IsDomainName(target); !ok || len(target) > 255 {
		return nil, false, fmt.Errorf("rpz rewrite of %q: target %q is not a name", q.Name, target)
	}
	cname := &dns.CNAME{Hdr: rrHeader(q.Name, dns.TypeCNAME, p.ttl), Target: target}
	resp := new(dns.Msg)
	resp.SetReply(req.Msg)
	resp.Answer = []dns.RR{cname}
	if q.Qtype == dns.TypeCNAME {
		return resp, true, nil
	}
	sub := *req
	sub.Wire = nil // the garden's answer is composed here, decoded
	msg := req.Msg.Copy()
	msg.Question = []dns.Question{{Name: target, Qtype: q.Qtype, Qclass: q.Qclass}}
	sub.Msg, sub.Question = msg, msg.Question[0]
	garden, err := p.next.Resolve(ctx, &sub)
	if err != nil || garden == nil {
		return resp, true, nil // the CNAME alone: the client resolves the garden itself
	}
	resp.Rcode = garden.Rcode
	resp.AuthenticatedData = false
	resp.Answer = append(resp.Answer, garden.Answer...)
	resp.Ns = garden.Ns
	return resp, true, nil
}

// localServable reports whether the fast path can answer decision d from
// the wire: local data needs the chain.
func localServable(d query.Decision) bool { return d.Match.Payload.Action != blocklist.ActionLocal }
