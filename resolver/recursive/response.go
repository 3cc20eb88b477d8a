package recursive

import (
	"net/netip"
	"slices"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// kind is what a reply means for the question asked.
type kind uint8

const (
	// kindAnswer: data of the asked type, maybe after an in-zone chain.
	kindAnswer kind = iota
	// kindChain: a CNAME/DNAME chain leads out of what this server may
	// speak for; resolution continues at next.
	kindChain
	kindNXDomain
	kindNoData
	// kindReferral: go down to the servers of cut.
	kindReferral
	// kindLame: the server does not serve the zone (upward or sideways
	// referral, empty non-authoritative reply).
	kindLame
)

// reply is the part of a response the resolver believes: records within
// the bailiwick of the zone asked, in answer order.
type reply struct {
	kind   kind
	rcode  int
	answer []dns.RR // chain links and data (with their RRSIGs)
	ns     []dns.RR // negative answers: SOA, and NSEC/NSEC3/RRSIG if sent
	next   string   // kindChain: the name the chain continues at
	links  int      // CNAME and DNAME links in answer
	why    string   // kindLame: the reason, for errors and logs

	// Referrals (and NS answers, for priming).
	cut     string
	nsHosts []string
	nsTTL   uint32
	glue    []glue
}

// glue is one in-bailiwick address for a name server host.
type glue struct {
	host string
	addr netip.Addr
	ttl  uint32
}

// classify interprets resp, the reply to qname/qtype (canonical names, as
// canonicalise leaves the response) from a server of zone. It believes
// only what that server may speak for: records owned within zone, glue for
// the referral's own name servers within zone, an SOA between zone and the
// name. Everything else in the message is ignored, which is what keeps
// forged "helpful" records out of the caches.
func classify(resp *dns.Msg, zone, qname string, qtype uint16) reply {
	rep := reply{rcode: resp.Rcode}
	cur, data, looped := walkChain(resp.Answer, zone, qname, qtype, &rep)
	if data {
		rep.kind = kindAnswer
		rep.rcode = dns.RcodeSuccess
		rep.ns = proofs(resp.Ns, zone) // a wildcard answer's NSEC/NSEC3, for the validator
		if qtype == dns.TypeNS {
			rep.nsHosts, rep.nsTTL = nsHosts(rep.answer, cur)
			rep.glue = glueFor(resp.Extra, zone, rep.nsHosts)
		}
		return rep
	}
	if rep.rcode == dns.RcodeYXDomain { // DNAME substitution overflowed
		rep.kind = kindAnswer
		return rep
	}
	if looped || cur != qname {
		// A chain with no data at its end. Its last name is only ours to
		// judge when it is within zone and the server says why it is empty.
		rep.next = cur
		rep.kind = kindChain
		if looped || !isSubDomain(zone, cur) {
			rep.ns = proofs(resp.Ns, zone)
			return rep
		}
		if ns := negative(resp.Ns, zone, cur); ns != nil {
			rep.ns, rep.next = ns, ""
			rep.kind = kindNoData
			if resp.Rcode == dns.RcodeNameError {
				rep.kind = kindNXDomain
			}
		}
		return rep
	}

	if resp.Rcode == dns.RcodeNameError {
		rep.kind = kindNXDomain
		rep.ns = negative(resp.Ns, zone, qname)
		return rep
	}
	rep.rcode = dns.RcodeSuccess
	neg := negative(resp.Ns, zone, qname)
	if cut, other, apex := referralCut(resp.Ns, zone, qname); cut != "" && neg == nil {
		rep.kind = kindReferral
		rep.cut = cut
		rep.nsHosts, rep.nsTTL = nsHosts(resp.Ns, cut)
		rep.glue = glueFor(resp.Extra, zone, rep.nsHosts)
		if len(rep.nsHosts) > 0 {
			return rep
		}
		rep.kind, rep.why, rep.cut = kindLame, "referral to "+cut+" names no server", ""
		return rep
	} else if cut == "" && neg == nil && (other != "" || apex && !resp.Authoritative) {
		// An upward or sideways referral is lame even with AA set: the
		// server claims a zone that does not hold the name.
		if other == "" {
			other = zone
		}
		rep.kind, rep.why = kindLame, "referral to "+other+", which is not below "+zone
		return rep
	}
	switch {
	case neg != nil:
		rep.kind, rep.ns = kindNoData, neg
	case resp.Authoritative:
		rep.kind = kindNoData // authoritative, empty, no SOA: odd but final
	case !resp.RecursionAvailable && ownsOther(resp.Answer, zone, qname):
		// Only another type's record for the name (RFC 2308 §2.2): NODATA
		// once it is dropped. A recursion-only server (RA set) stays lame.
		rep.kind = kindNoData
	default:
		rep.kind, rep.why = kindLame, "empty non-authoritative reply"
	}
	return rep
}

// ownsOther reports whether answer holds a record owned by qname, within
// zone: data of a type not asked for.
func ownsOther(answer []dns.RR, zone, qname string) bool {
	for _, rr := range answer {
		if h := rr.Header(); h.Name == qname && h.Class == dns.ClassINET && isSubDomain(zone, qname) {
			return true
		}
	}
	return false
}

// walkChain follows qname through the answer section: data of qtype, a
// DNAME above the current name (the CNAME is synthesized here, not taken
// from the server), or a CNAME. It takes only records owned within zone and
// stops where the chain leaves it. It returns the last name reached,
// whether data was found there, and whether the chain looped.
func walkChain(answer []dns.RR, zone, qname string, qtype uint16, rep *reply) (cur string, data, looped bool) {
	cur = qname
	seen := map[string]bool{qname: true}
	for range len(answer) + 1 {
		if !isSubDomain(zone, cur) {
			return cur, false, false
		}
		if rrs := ownedBy(answer, cur, qtype); len(rrs) > 0 {
			if rep.answer == nil {
				rep.answer = rrs // ownedBy's own slice: no copy of it
			} else {
				rep.answer = append(rep.answer, rrs...)
			}
			return cur, true, false
		}
		var next string
		if d := dnameAbove(answer, zone, cur); d != nil {
			target, ok := dnswire.SubstituteDNAME(cur, d)
			// A DNAME applied twice along the chain is listed once (RFC
			// 2181 §5: an RRset is a set).
			rep.answer = appendNew(rep.answer, d)
			rep.answer = appendNew(rep.answer, sigs(answer, d.Hdr.Name, dns.TypeDNAME)...)
			if !ok {
				rep.rcode = dns.RcodeYXDomain
				return cur, false, false
			}
			rep.answer = append(rep.answer, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: cur, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl},
				Target: target,
			})
			if qtype == dns.TypeCNAME { // the synthesized CNAME is the answer
				rep.links++
				return cur, true, false
			}
			next = target
		} else if c := cnameAt(answer, cur); c != nil && qtype != dns.TypeCNAME {
			rep.answer = append(rep.answer, c)
			rep.answer = append(rep.answer, sigs(answer, cur, dns.TypeCNAME)...)
			next = dns.CanonicalName(c.Target)
		} else {
			return cur, false, false
		}
		rep.links++
		if seen[next] {
			return next, false, true
		}
		seen[next] = true
		cur = next
	}
	return cur, false, true
}

// ownedBy returns the records of type t (any type for ANY) owned by name,
// with the RRSIGs covering them.
func ownedBy(rrs []dns.RR, name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		if h.Name != name || h.Class != dns.ClassINET {
			continue
		}
		if h.Rrtype == t || t == dns.TypeANY && h.Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	if len(out) > 0 && t != dns.TypeANY && t != dns.TypeRRSIG {
		out = append(out, sigs(rrs, name, t)...)
	}
	return out
}

// sigs returns the RRSIGs owned by name covering type t.
func sigs(rrs []dns.RR, name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.Hdr.Name == name && s.TypeCovered == t {
			out = append(out, rr)
		}
	}
	return out
}

func cnameAt(rrs []dns.RR, name string) *dns.CNAME {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Name == name && c.Hdr.Class == dns.ClassINET {
			return c
		}
	}
	return nil
}

// dnameAbove returns a DNAME owned by a proper ancestor of name within
// zone (the deepest, as the zone could only hold one on the path).
func dnameAbove(rrs []dns.RR, zone, name string) *dns.DNAME {
	var best *dns.DNAME
	for _, rr := range rrs {
		d, ok := rr.(*dns.DNAME)
		if !ok || d.Hdr.Name == name || d.Hdr.Class != dns.ClassINET ||
			!isSubDomain(d.Hdr.Name, name) || !isSubDomain(zone, d.Hdr.Name) {
			continue
		}
		if best == nil || dns.CountLabel(d.Hdr.Name) > dns.CountLabel(best.Hdr.Name) {
			best = d
		}
	}
	return best
}

// appendNew appends to list the records of rrs it does not hold yet.
func appendNew(list []dns.RR, rrs ...dns.RR) []dns.RR {
	for _, rr := range rrs {
		if !slices.ContainsFunc(list, func(have dns.RR) bool { return dns.IsDuplicate(have, rr) }) {
			list = append(list, rr)
		}
	}
	return list
}

// negative returns the authority records that explain an empty answer for
// name: an SOA owned between zone and name, and the NSEC/NSEC3/RRSIG
// records within zone; nil without such an SOA.
func negative(ns []dns.RR, zone, name string) []dns.RR {
	var out []dns.RR
	soa := false
	for _, rr := range ns {
		h := rr.Header()
		if h.Class != dns.ClassINET || !isSubDomain(zone, h.Name) {
			continue
		}
		switch h.Rrtype {
		case dns.TypeSOA:
			if !soa && isSubDomain(h.Name, name) {
				out = append(out, rr)
				soa = true
			}
		case dns.TypeNSEC, dns.TypeNSEC3, dns.TypeRRSIG:
			out = append(out, rr)
		}
	}
	if !soa {
		return nil
	}
	return out
}

// proofs returns the NSEC and NSEC3 records within zone, and the RRSIGs
// over them, from the authority section of a positive answer: the proof
// that a wildcard answered because the name itself does not exist.
func proofs(ns []dns.RR, zone string) []dns.RR {
	var out []dns.RR
	for _, rr := range ns {
		h := rr.Header()
		if h.Class != dns.ClassINET || !isSubDomain(zone, h.Name) {
			continue
		}
		switch r := rr.(type) {
		case *dns.NSEC, *dns.NSEC3:
			out = append(out, rr)
		case *dns.RRSIG:
			if r.TypeCovered == dns.TypeNSEC || r.TypeCovered == dns.TypeNSEC3 {
				out = append(out, rr)
			}
		}
	}
	return out
}

// referralCut finds the delegation in an authority section: the deepest NS
// owner strictly below zone that is an ancestor of (or is) qname. other is
// an NS owner above zone or beside the name: the sign of a lame or
// confused server. apex reports NS records of the zone itself, which an
// authoritative server may add to an answer but a referral cannot name.
func referralCut(ns []dns.RR, zone, qname string) (cut, other string, apex bool) {
	for _, rr := range ns {
		n, ok := rr.(*dns.NS)
		if !ok || n.Hdr.Class != dns.ClassINET {
			continue
		}
		owner := n.Hdr.Name
		if owner == zone {
			apex = true
			continue
		}
		if !isSubDomain(zone, owner) || !isSubDomain(owner, qname) {
			other = owner
			continue
		}
		if cut == "" || dns.CountLabel(owner) > dns.CountLabel(cut) {
			cut = owner
		}
	}
	return cut, other, apex
}

// nsHosts returns the name server host names of the NS records owned by
// owner, deduplicated, and their smallest TTL.
func nsHosts(rrs []dns.RR, owner string) ([]string, uint32) {
	var hosts []string
	var ttl uint32
	for _, rr := range rrs {
		n, ok := rr.(*dns.NS)
		if !ok || n.Hdr.Name != owner {
			continue
		}
		host := dns.CanonicalName(n.Ns)
		if host == "." || containsString(hosts, host) {
			continue
		}
		if len(hosts) == 0 || n.Hdr.Ttl < ttl {
			ttl = n.Hdr.Ttl
		}
		hosts = append(hosts, host)
	}
	return hosts, ttl
}

// glueFor returns the A/AAAA records of extra for the given hosts, when
// the host lies within zone: the server sending them is authoritative for
// them. Glue for other names (out of bailiwick) is exactly what a cache
// poisoning attack plants, and is ignored.
func glueFor(extra []dns.RR, zone string, hosts []string) []glue {
	var out []glue
	for _, rr := range extra {
		h := rr.Header()
		if h.Class != dns.ClassINET || !containsString(hosts, h.Name) || !isSubDomain(zone, h.Name) {
			continue
		}
		var a netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(rr.AAAA.To16())
		default:
			continue
		}
		if a.IsValid() {
			out = append(out, glue{host: h.Name, addr: a.Unmap(), ttl: h.Ttl})
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// canonicalise lower-cases the owner names of every record in resp (0x20
// replies echo our random case; zones store any case), so the checks above
// compare plain strings.
func canonicalise(resp *dns.Msg) {
	for _, sec := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				h.Name = dns.CanonicalName(h.Name)
			}
		}
	}
}

// ttl is how long the reply may be relied on: the smallest TTL of its
// answer, or for a negative answer the SOA's negative TTL (RFC 2308 §5).
func (rep *reply) ttl() uint32 {
	var ttl uint32
	first := true
	for _, rr := range rep.answer {
		if first || rr.Header().Ttl < ttl {
			ttl, first = rr.Header().Ttl, false
		}
	}
	for _, rr := range rep.ns {
		if soa, ok := rr.(*dns.SOA); ok {
			ttl = min(soa.Hdr.Ttl, soa.Minttl)
			first = false
		}
	}
	if first {
		return 0
	}
	return ttl
}
