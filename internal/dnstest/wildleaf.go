package dnstest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

// StartWildcardLeaf answers every UDP query on addr ("127.0.0.9:5300") as
// an authoritative server of a zone with a wildcard A record and NSD's
// minimal-responses would: AA set, the question as asked (its letter case
// too), one A record (192.0.2.1, TTL 300) owned by the question's name
// whatever the type asked,
// and the query's OPT echoed. It answers octet for octet on one goroutine
// and allocates nothing per query, so that a benchmark of a recursive
// resolver's cold misses below a delegation (a Hierarchy's, on the same
// port) counts the resolver's allocations alone. It stops when the test
// ends.
func StartWildcardLeaf(t testing.TB, addr string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	out := make([]byte, 0, 4096)
	ServeRawUDP(pc, func(q []byte, from netip.AddrPort) {
		if out = wildcardAnswer(out[:0], q); len(out) > 0 {
			_, _ = pc.WriteToUDPAddrPort(out, from)
		}
	})
}

// wildcardAnswer appends to out the answer StartWildcardLeaf sends for q,
// or nothing when q is not a query with one question.
func wildcardAnswer(out, q []byte) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return out
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		if q[end]&0xc0 != 0 {
			return out // a pointer in a question: not ours to answer
		}
		end += 1 + int(q[end])
	}
	end += 1 + 4 // the root label, type and class
	if end > len(q) {
		return out
	}
	out = append(out, q[:end]...)
	out[2] = 0x84 | q[2]&0x01 // QR, AA, RD as asked
	out[3] = 0
	binary.BigEndian.PutUint16(out[6:], 1) // ANCOUNT
	binary.BigEndian.PutUint16(out[8:], 0) // NSCOUNT
	out = append(out,
		0xc0, 12, // the question's name
		0, 1, 0, 1, // A, IN
		0, 0, 1, 44, // TTL 300
		0, 4, 192, 0, 2, 1)
	return append(out, q[end:]...) // the OPT, ARCOUNT as asked
}
