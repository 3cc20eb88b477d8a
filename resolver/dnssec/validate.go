package dnssec

import (
	"context"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// validate judges resp, an answer to q (canonical name), and caps the TTLs
// of what it validates. It follows the CNAME/DNAME chain from q.Name
// through the answer section; each RRset on it must be secure for the
// answer to be; the negative answer at the chain's end must be proved.
func (v *Validator) validate(ctx context.Context, q dns.Question, resp *dns.Msg) verdict {
	sets := rrsets(resp.Answer)
	used := make(map[*rrset]bool)
	verd := secure
	cur := q.Name
	positive := false
	for range len(sets) + 1 {
		if data := findSets(sets, cur, q.Qtype); len(data) > 0 {
			for _, s := range data {
				used[s] = true
				verd = verd.and(v.checkSet(ctx, s, resp.Ns))
			}
			positive = true
			break
		}
		if d := dnameAbove(sets, cur); d != nil {
			used[d] = true
			verd = verd.and(v.checkSet(ctx, d, resp.Ns))
			target, ok := dnswire.SubstituteDNAME(cur, d.rrs[0].(*dns.DNAME))
			if !ok {
				positive = true // YXDOMAIN: the DNAME is the answer
				break
			}
			// The CNAME the server synthesized (unsigned, RFC 6672 §5.3.1)
			// is implied by the validated DNAME when it says the same.
			if c := findSet(sets, cur, dns.TypeCNAME); c != nil {
				used[c] = true
				if len(c.sigs) > 0 {
					verd = verd.and(v.checkSet(ctx, c, resp.Ns))
				} else if dns.CanonicalName(c.rrs[0].(*dns.CNAME).Target) != target {
					verd = verd.and(bogus(dns.ExtendedErrorCodeDNSBogus, "CNAME at %s does not follow from the DNAME at %s", cur, d.name))
				}
			}
			if q.Qtype == dns.TypeCNAME {
				positive = true
				break
			}
			cur = target
			continue
		}
		if c := findSet(sets, cur, dns.TypeCNAME); c != nil && q.Qtype != dns.TypeCNAME {
			used[c] = true
			verd = verd.and(v.checkSet(ctx, c, resp.Ns))
			cur = dns.CanonicalName(c.rrs[0].(*dns.CNAME).Target)
			continue
		}
		break
	}
	if !positive {
		verd = verd.and(v.checkDenial(ctx, cur, q.Qtype, resp.Rcode == dns.RcodeNameError, resp.Ns))
	}
	if verd.sec == Secure {
		// AD vouches for the answer section: drop what the chain did not use.
		resp.Answer = keepUsed(resp.Answer, sets, used)
	}
	return verd
}

// checkSet validates one RRset of the answer: signed by a secure zone
// (its signer, which the chain must reach), or unsigned in an insecure one.
// A wildcard expansion must come with the proof that the name itself does
// not exist (from ns).
func (v *Validator) checkSet(ctx context.Context, s *rrset, ns []dns.RR) verdict {
	owner := s.name
	if s.rtype == dns.TypeDS {
		owner = parentName(owner) // DS lives on the parent side
	}
	signer := s.signer()
	if signer == "" {
		z := v.zoneFor(ctx, owner)
		if z.v.sec == Secure {
			return bogus(dns.ExtendedErrorCodeRRSIGsMissing, "no RRSIG for %s %s in secure zone %s", s.name, typeName(s.rtype), z.name)
		}
		return z.v
	}
	z := v.zoneFor(ctx, signer)
	if z.v.sec != Secure {
		return z.v
	}
	if z.name != signer {
		return bogus(dns.ExtendedErrorCodeDNSBogus, "%s %s signed by %s, which is not a zone (the zone is %s)", s.name, typeName(s.rtype), signer, z.name)
	}
	now := v.now()
	c := v.verifySet(s, z.name, z.keys, now)
	if c.v.sec != Secure {
		return c.v
	}
	capTTL(s, c, now)
	if c.labels < dns.CountLabel(s.name) {
		d, _, dv := v.validDenial(ns, z, now)
		if dv.sec != Secure {
			return dv
		}
		return d.Wildcard(s.name, c.labels)
	}
	return secure
}

// checkDenial validates a negative answer for name/qtype: the SOA and
// NSEC/NSEC3 records of ns, signed by the zone, and the proof they make.
func (v *Validator) checkDenial(ctx context.Context, name string, qtype uint16, nx bool, ns []dns.RR) verdict {
	var signer, soaOwner string
	for _, s := range rrsets(ns) {
		switch s.rtype {
		case dns.TypeSOA:
			soaOwner = s.name
		case dns.TypeNSEC, dns.TypeNSEC3:
		default:
			continue
		}
		if signer == "" {
			if sg := s.signer(); sg != "" && isAncestorOrSelf(sg, name) || sg != "" && s.rtype == dns.TypeNSEC3 {
				signer = sg
			}
		}
	}
	if signer == "" {
		where := name
		if soaOwner != "" && isAncestorOrSelf(soaOwner, name) {
			where = soaOwner
		}
		if qtype == dns.TypeDS && where == name {
			where = parentName(name)
		}
		z := v.zoneFor(ctx, where)
		if z.v.sec == Secure {
			return nsecMissing("negative answer for %s %s from secure zone %s without signed NSEC/NSEC3", name, typeName(qtype), z.name)
		}
		return z.v
	}
	z := v.zoneFor(ctx, signer)
	if z.v.sec != Secure {
		return z.v
	}
	if z.name != signer {
		return bogus(dns.ExtendedErrorCodeDNSBogus, "denial for %s signed by %s, which is not a zone (the zone is %s)", name, signer, z.name)
	}
	d, _, dv := v.validDenial(ns, z, v.now())
	if dv.sec != Secure {
		return dv
	}
	if d.empty() {
		return nsecMissing("negative answer for %s %s without NSEC/NSEC3", name, typeName(qtype))
	}
	if nx {
		return d.NXDomain(name)
	}
	return d.NoData(name, qtype)
}

// findSets returns the RRsets at name answering qtype (all of them for ANY).
func findSets(sets []*rrset, name string, qtype uint16) []*rrset {
	var out []*rrset
	for _, s := range sets {
		if s.name == name && len(s.rrs) > 0 && (s.rtype == qtype || qtype == dns.TypeANY) {
			out = append(out, s)
		}
	}
	return out
}

func findSet(sets []*rrset, name string, t uint16) *rrset {
	for _, s := range sets {
		if s.name == name && s.rtype == t && len(s.rrs) > 0 {
			return s
		}
	}
	return nil
}

// dnameAbove returns the DNAME set owned by the deepest proper ancestor of
// name, if the answer holds one.
func dnameAbove(sets []*rrset, name string) *rrset {
	var best *rrset
	for _, s := range sets {
		if s.rtype != dns.TypeDNAME || len(s.rrs) == 0 || s.name == name || !isAncestorOrSelf(s.name, name) {
			continue
		}
		if best == nil || dns.CountLabel(s.name) > dns.CountLabel(best.name) {
			best = s
		}
	}
	return best
}

// keepUsed returns the records of answer that belong to used sets.
func keepUsed(answer []dns.RR, sets []*rrset, used map[*rrset]bool) []dns.RR {
	if len(used) == len(sets) {
		return answer
	}
	drop := map[dns.RR]bool{}
	for _, s := range sets {
		if used[s] {
			continue
		}
		for _, rr := range s.rrs {
			drop[rr] = true
		}
		for _, sig := range s.sigs {
			drop[sig] = true
		}
	}
	out := answer[:0]
	for _, rr := range answer {
		if !drop[rr] {
			out = append(out, rr)
		}
	}
	return out
}
