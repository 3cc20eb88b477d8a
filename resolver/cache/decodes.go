package cache

import (
	"encoding/binary"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/miekg/dns"
)

// decodes reports whether miekg/dns is sure to unpack w, an answer without
// OPT, read without decoding it. A miss whose answer goes to the client
// in wire form checks it this way instead of decoding it before it is
// stored (the entry's hits may be decoded later, and a body that does not
// decode would answer them SERVFAIL). It knows the records of the common
// answers — A, AAAA, CNAME, DNAME, NS, PTR, MX, TXT, SOA — and is stricter
// than the decoder (compression pointers only backwards, exact RDATA
// lengths); false means "not known to decode": the caller decodes to see.
// FuzzDecodes holds it to the decoder: never true for what fails.
func decodes(w []byte) bool {
	if len(w) < dnswire.HeaderLen || len(w) > 0xffff {
		return false
	}
	qd, _, _, _ := dnswire.Counts(w)
	off := dnswire.HeaderLen
	for range qd {
		end, ok := nameEnd(w, off)
		if !ok || end+4 > len(w) {
			return false
		}
		off = end + 4
	}
	end, ok := dnswire.Walk(w, func(r dnswire.RR) bool {
		if e, ok := nameEnd(w, r.Owner); !ok || e != r.TTL-4 {
			return false
		}
		return rdataDecodes(w, r)
	})
	return ok && end == len(w)
}

// rdataDecodes reports whether the RDATA of r is one the decoder reads
// exactly: a known type, its fields filling RDLENGTH.
func rdataDecodes(w []byte, r dnswire.RR) bool {
	end := r.End()
	switch r.Type {
	case dns.TypeA:
		return r.Len == 4
	case dns.TypeAAAA:
		return r.Len == 16
	case dns.TypeCNAME, dns.TypeDNAME, dns.TypeNS, dns.TypePTR:
		e, ok := nameEnd(w, r.Data)
		return ok && e == end
	case dns.TypeMX:
		e, ok := nameEnd(w, r.Data+2)
		return r.Len > 2 && ok && e == end
	case dns.TypeSOA:
		e, ok := nameEnd(w, r.Data)
		if ok {
			e, ok = nameEnd(w, e)
		}
		return ok && e+20 == end
	case dns.TypeTXT:
		off := r.Data
		for off < end {
			off += 1 + int(w[off])
		}
		return r.Len > 0 && off == end
	}
	return false
}

// maxPointers is the decoder's limit on compression pointers in a name.
const maxPointers = (dnswire.MaxNameLen+1)/2 - 2

// nameEnd returns the offset just past the name at off in w, if the
// decoder reads it: labels of at most 63 octets, at most 254 octets of
// labels and separators in all, pointers that point backwards (so no
// loops) and stay within the decoder's limit on their number.
func nameEnd(w []byte, off int) (int, bool) {
	end, budget := -1, dnswire.MaxNameLen
	for hops := 0; ; {
		if off >= len(w) {
			return 0, false
		}
		c := int(w[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				return end, true
			}
			if budget -= c + 1; budget <= 0 || off+1+c > len(w) {
				return 0, false
			}
			off += 1 + c
		case 0xc0:
			if off+2 > len(w) {
				return 0, false
			}
			if end < 0 {
				end = off + 2
			}
			p := int(binary.BigEndian.Uint16(w[off:]) & 0x3fff)
			if hops++; hops > maxPointers || p >= off {
				return 0, false
			}
			off = p
		default:
			return 0, false
		}
	}
}
