package proxyproto

import (
	"bytes"
	"net/netip"
)

// Datagram checks one UDP datagram from src: from a trusted balancer it
// must start with a v2 header (v1 is TCP only), and the client is the one
// the header names; from anyone else it must not start with a header. It
// returns the client and the DNS payload, or ok false to discard the
// datagram unanswered (there is no DNS message to answer). payload aliases
// pkt; nothing is allocated. A nil p passes every datagram through.
func (p *Policy) Datagram(src netip.AddrPort, pkt []byte) (client netip.AddrPort, payload []byte, ok bool) {
	if p == nil {
		return src, pkt, true
	}
	if !p.Trusted(src.Addr()) {
		if hasSignature(pkt) {
			p.metrics.count(true, Refused)
			return netip.AddrPort{}, nil, false
		}
		return src, pkt, true
	}
	if !bytes.HasPrefix(pkt, v2Sig) {
		p.metrics.count(true, Dropped)
		return netip.AddrPort{}, nil, false
	}
	h, n, err := parseV2(pkt)
	if err != nil {
		p.metrics.count(true, Dropped)
		return netip.AddrPort{}, nil, false
	}
	p.metrics.count(true, Accepted)
	if h.HasAddrs() {
		return h.Source, pkt[n:], true
	}
	return src, pkt[n:], true
}

// hasSignature reports whether b starts with a whole v1 or v2 signature.
func hasSignature(b []byte) bool { return bytes.HasPrefix(b, v2Sig) || bytes.HasPrefix(b, v1Prefix) }
