package recursive

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
)

// packAnswer is res, the answer to question (qname its canonical name),
// in the wire form the cache would pack Resolve's message into (ID 0, QR
// and RA set, no OPT), or nil when the message packs smaller or res has
// what the wire form cannot carry: a record owned by another name (a
// chain, an SOA), a name in the data that a packer compresses (NS, MX,
// SOA...), an extended rcode. Each record's owner points to the question,
// which has the client's spelling, as Resolve gives owners the question
// name's; the data is written as packed by miekg/dns without a
// compression map, which is what it packs them to with one.
func packAnswer(question dns.Question, qname string, res result) []byte {
	if res.rcode > int(dnswire.MaskRcode) {
		return nil
	}
	size := dnswire.HeaderLen + len(question.Name) + 2 + 4 // a name's wire form: at most its text and two octets
	for _, sec := range [...][]dns.RR{res.answer, res.ns} {
		for _, rr := range sec {
			if h := rr.Header(); h.Name != qname || compresses(h.Rrtype) {
				return nil
			}
			size += dns.Len(rr)
		}
	}
	out := make([]byte, size)
	dnswire.SetFlags(out, dnswire.FlagQR|dnswire.FlagRA|uint16(res.rcode))
	dnswire.SetCounts(out, 1, uint16(len(res.answer)), uint16(len(res.ns)), 0)
	off, err := dns.PackDomainName(question.Name, out, dnswire.HeaderLen, nil, false)
	if err != nil {
		return nil
	}
	binary.BigEndian.PutUint16(out[off:], question.Qtype)
	binary.BigEndian.PutUint16(out[off+2:], question.Qclass)
	off += 4
	for _, sec := range [...][]dns.RR{res.answer, res.ns} {
		for _, rr := range sec {
			end, err := dns.PackRR(rr, out, off, nil, false)
			if err != nil {
				return nil
			}
			// The owner, packed in full, becomes a pointer to the question.
			owner, ok := dnswire.SkipName(out, off)
			if !ok || owner-off < 2 { // the root: no room for the pointer
				return nil
			}
			out[off], out[off+1] = 0xc0, dnswire.HeaderLen
			off += 2 + copy(out[off+2:], out[owner:end])
		}
	}
	return out[:off]
}

// compresses reports whether a packer compresses the names in the data
// of records of type t (RFC 3597 §4: the types of RFC 1035).
func compresses(t uint16) bool {
	switch t {
	case dns.TypeCNAME, dns.TypeMB, dns.TypeMD, dns.TypeMF, dns.TypeMG, dns.TypeMINFO,
		dns.TypeMR, dns.TypeMX, dns.TypeNS, dns.TypePTR, dns.TypeSOA:
		return true
	}
	return false
}
