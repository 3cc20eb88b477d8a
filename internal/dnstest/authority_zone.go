package dnstest

import (
	"strings"

	"github.com/miekg/dns"
)

// answer builds the reply to r from the zones, as an authoritative server
// would: REFUSED outside them, a referral at a zone cut, DNAME synthesis,
// in-zone CNAME chasing, NODATA/NXDOMAIN with the zone's SOA.
func (a *Authority) answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg).SetReply(r)
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)

	a.mu.Lock()
	defer a.mu.Unlock()
	origin, ok := a.zoneFor(name, q.Qtype)
	if !ok {
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = true
	owner := q.Name // as the client spelled it, for synthesized records
	defer a.addExtras(m)
	for range maxChain {
		z := a.zones[origin]
		if cut := cutFor(z, origin, name, q.Qtype); cut != "" {
			if len(m.Answer) > 0 {
				return m // a CNAME into a delegated child: the client follows it
			}
			m.Authoritative = false
			m.Ns = rrsOfType(z[cut], dns.TypeNS)
			if !a.minimalGlue.Load() {
				m.Extra = a.glue(m.Ns)
			}
			return m
		}
		if d := dnameFor(z, origin, name); d != nil {
			// The prefix below the DNAME owner, as the client spelled it.
			keep := dns.CountLabel(name) - dns.CountLabel(dns.CanonicalName(d.Hdr.Name))
			target := owner[:dns.Split(owner)[keep]]
			if d.Target != "." {
				target += d.Target
			}
			if _, ok := dns.IsDomainName(target); !ok || len(target) > 255 {
				m.Rcode = dns.RcodeYXDomain
				m.Answer = append(m.Answer, d)
				return m
			}
			m.Answer = append(m.Answer, d, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl},
				Target: target,
			})
			owner, name = target, dns.CanonicalName(target)
			if next, ok := a.zoneFor(name, q.Qtype); ok {
				origin = next
				continue
			}
			return m
		}

		rrs, exists := z[name]
		found, cname := pick(rrs, q.Qtype)
		switch {
		case len(found) > 0:
			m.Answer = append(m.Answer, found...)
			if q.Qtype == dns.TypeNS {
				m.Extra = a.glue(found)
			}
			return m
		case cname != nil:
			m.Answer = append(m.Answer, cname)
			owner, name = cname.Target, dns.CanonicalName(cname.Target)
			next, ok := a.zoneFor(name, q.Qtype)
			if !ok {
				return m // out of our zones: the client follows the chain
			}
			origin = next
		case exists || hasDescendant(z, name):
			m.Ns = []dns.RR{soaOf(z, origin)}
			return m
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{soaOf(z, origin)}
			return m
		}
	}
	return m
}

// addExtras appends the planted records of AddAdditional / AddAuthority.
// Callers hold a.mu.
func (a *Authority) addExtras(m *dns.Msg) {
	m.Ns = append(m.Ns, a.authority...)
	m.Extra = append(m.Extra, a.additional...)
}

// zoneFor is the deepest zone served that contains name. A DS query for a
// zone apex belongs to the parent side of the cut, when we serve it too.
// Callers hold a.mu.
func (a *Authority) zoneFor(name string, qtype uint16) (string, bool) {
	best, found := "", false
	for origin := range a.zones {
		if !dns.IsSubDomain(origin, name) {
			continue
		}
		if qtype == dns.TypeDS && origin == name && name != "." {
			continue
		}
		if !found || dns.CountLabel(origin) > dns.CountLabel(best) {
			best, found = origin, true
		}
	}
	if !found && qtype == dns.TypeDS {
		if _, ok := a.zones[name]; ok {
			return name, true
		}
	}
	return best, found
}

// glue is the A and AAAA records this server holds, in any zone, for the
// targets of the NS records in ns. Callers hold a.mu.
func (a *Authority) glue(ns []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range ns {
		n, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		target := dns.CanonicalName(n.Ns)
		for _, z := range a.zones {
			for _, g := range z[target] {
				if t := g.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
					out = append(out, g)
				}
			}
		}
	}
	return out
}

// ancestors lists the names from one label below origin down to name
// itself, top first ("b.example.", "a.b.example." for a.b.example. in
// example.).
func ancestors(origin, name string) []string {
	idx := dns.Split(name)
	skip := dns.CountLabel(origin)
	var out []string
	for i := len(idx) - skip - 1; i >= 0; i-- {
		out = append(out, name[idx[i]:])
	}
	return out
}

// cutFor is the topmost delegation (NS records below the apex) at or above
// name, "" if none. A DS query at the cut itself is answered by the parent.
func cutFor(z map[string][]dns.RR, origin, name string, qtype uint16) string {
	for _, n := range ancestors(origin, name) {
		if n == name && qtype == dns.TypeDS {
			break
		}
		if len(rrsOfType(z[n], dns.TypeNS)) > 0 {
			return n
		}
	}
	return ""
}

// dnameFor is a DNAME at origin or below it that is a proper ancestor of
// name, topmost first; nil if none.
func dnameFor(z map[string][]dns.RR, origin, name string) *dns.DNAME {
	for _, n := range append([]string{origin}, ancestors(origin, name)...) {
		if n == name {
			break
		}
		for _, rr := range z[n] {
			if d, ok := rr.(*dns.DNAME); ok {
				return d
			}
		}
	}
	return nil
}

func rrsOfType(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// hasDescendant reports whether some owner lies below name (which makes an
// empty name exist: NODATA, not NXDOMAIN).
func hasDescendant(z map[string][]dns.RR, name string) bool {
	for owner := range z {
		if owner != name && dns.IsSubDomain(name, owner) {
			return true
		}
	}
	return false
}

// soaOf is the zone's SOA, added or synthesized (minimum 60s).
func soaOf(z map[string][]dns.RR, origin string) dns.RR {
	for _, rr := range z[origin] {
		if rr.Header().Rrtype == dns.TypeSOA {
			return rr
		}
	}
	host := strings.TrimPrefix(origin, ".")
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:      "ns." + host,
		Mbox:    "hostmaster." + host,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  60,
	}
}
