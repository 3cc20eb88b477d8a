package resolver

import (
	"net"
	"net/netip"
	"strings"

	"github.com/bulwark-dns/bulwark/blocklist"
	"github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// EDE code 15 (RFC 8914): the answer was blocked by local policy.
const edeBlocked = dns.ExtendedErrorCodeBlocked

// nullAddrs are the answers of the "null" action.
var nullAddrs = [...]netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}

// blockAnswer synthesizes the answer a block rule asks for. zone is the
// blocked name (a suffix of the query name, or the CNAME target that was
// blocked); it owns the SOA of negative answers so that clients cache the
// block for ttl seconds at most.
func blockAnswer(req *query.Request, action blocklist.Action, list blocklist.ListInfo, zone string, ttl uint32) (*dns.Msg, error) {
	resp := new(dns.Msg)
	q := req.Question
	switch action {
	case blocklist.ActionDrop:
		return nil, query.ErrDrop
	case blocklist.ActionRefused:
		resp.Rcode = dns.RcodeRefused
	case blocklist.ActionNXDomain:
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{blockSOA(q.Name, zone, ttl)}
	case blocklist.ActionNoData:
		resp.Ns = []dns.RR{blockSOA(q.Name, zone, ttl)}
	case blocklist.ActionNull, blocklist.ActionSinkhole:
		addrs := list.Sinkhole
		if action == blocklist.ActionNull {
			addrs = nullAddrs[:]
		}
		for _, a := range addrs {
			a = a.Unmap()
			hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: ttl}
			switch {
			case q.Qtype == dns.TypeA && a.Is4():
				hdr.Rrtype = dns.TypeA
				resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: net.IP(a.AsSlice())})
			case q.Qtype == dns.TypeAAAA && a.Is6():
				hdr.Rrtype = dns.TypeAAAA
				resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())})
			}
		}
		if len(resp.Answer) == 0 {
			resp.Ns = []dns.RR{blockSOA(q.Name, zone, ttl)}
		}
	default:
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{blockSOA(q.Name, zone, ttl)}
	}
	if req.EDNS {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{
			InfoCode:  edeBlocked,
			ExtraText: "blocked by list " + list.Name,
		})
		resp.Extra = append(resp.Extra, opt)
	}
	return resp, nil
}

// blockSOA returns the SOA of a negative block answer. Its owner is the
// blocked name when that is the query name or one of its parents, otherwise
// (a blocked CNAME target) the query name itself, so that it is always in
// the query's bailiwick.
func blockSOA(qname, zone string, ttl uint32) dns.RR {
	owner := dns.Fqdn(zone)
	if !dns.IsSubDomain(owner, qname) {
		owner = qname
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: owner, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "bulwark.invalid.",
		Mbox:    "hostmaster.bulwark.invalid.",
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  ttl,
	}
}

// canonical returns a name as logs show it: lower case, no trailing dot.
func canonical(name string) string {
	if len(name) > 1 {
		name = strings.TrimSuffix(name, ".")
	}
	return strings.ToLower(name)
}
