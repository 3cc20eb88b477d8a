// Package proxyproto reads the PROXY protocol header (HAProxy's
// proxy-protocol.txt, versions 1 and 2) that load balancers such as dnsdist
// and HAProxy put in front of what they forward, so that Bulwark's ACL, rate
// limit and logs see the real client instead of the balancer. Headers are
// believed only from the configured trusted networks: from anyone else a
// header would let a client choose its own address.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"strconv"
)

// Command is what a header says about the connection it precedes.
type Command uint8

const (
	// Local is a connection the balancer made on its own (a health
	// check): the real endpoints are those of the connection itself.
	Local Command = 0
	// Proxy is a connection relayed for a client: Source is that client.
	Proxy Command = 1
)

// Header is one parsed PROXY header.
type Header struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	Command Command
	// Source and Destination are the client's and the address it reached
	// on the balancer; invalid (the zero AddrPort) for Local, UNKNOWN
	// (v1) and AF_UNSPEC/AF_UNIX (v2), where the receiver must use the
	// connection's own endpoints.
	Source, Destination netip.AddrPort
	// Datagram is set when a v2 header says the client spoke UDP.
	Datagram bool
}

// HasAddrs reports whether the header carries a client address to use.
func (h Header) HasAddrs() bool { return h.Command == Proxy && h.Source.IsValid() }

// Limits of the format. A v1 line is at most 107 bytes with its CRLF; a v2
// header is 16 bytes and a length, but nothing legitimate needs more than
// the addresses and a few TLVs, so longer headers are refused rather than
// buffered (dnsdist itself accepts at most 512 bytes by default).
const (
	MaxV1Len = 107
	MaxV2Len = 16 + 2048
)

// v2Sig is the 12 bytes every v2 header starts with.
var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// v1Prefix starts every v1 header.
var v1Prefix = []byte("PROXY ")

var (
	// ErrNoHeader means the bytes do not start with a PROXY signature.
	ErrNoHeader = errors.New("proxyproto: no PROXY header")
	// ErrTruncated means the bytes start a header that does not end
	// within them.
	ErrTruncated = errors.New("proxyproto: truncated PROXY header")
)

// Parse reads the PROXY header (v1 or v2) at the start of b and returns it
// with its length in bytes: what follows b[n:] is the proxied data. It
// returns ErrNoHeader when b does not start with a signature (nor a
// prefix of one), ErrTruncated when more bytes are needed, and an error
// naming the fault for a malformed header.
func Parse(b []byte) (Header, int, error) {
	switch {
	case hasPrefixOf(b, v2Sig):
		return parseV2(b)
	case hasPrefixOf(b, v1Prefix):
		return parseV1(b)
	}
	return Header{}, 0, ErrNoHeader
}

// hasPrefixOf reports whether b starts with sig, or is a non-empty prefix
// of it.
func hasPrefixOf(b, sig []byte) bool {
	if len(b) == 0 {
		return false
	}
	if len(b) >= len(sig) {
		return bytes.Equal(b[:len(sig)], sig)
	}
	return bytes.Equal(b, sig[:len(b)])
}

// v2 address families and transports (the high and low nibble of byte 13).
const (
	afUnspec = 0x0
	afInet   = 0x1
	afInet6  = 0x2
	afUnix   = 0x3

	transUnspec = 0x0
	transStream = 0x1
	transDgram  = 0x2
)

// TLV types the parser acts on; every other TLV is skipped.
const (
	tlvCRC32C = 0x03
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func parseV2(b []byte) (Header, int, error) {
	if len(b) < 16 {
		return Header{}, 0, ErrTruncated
	}
	if v := b[12] >> 4; v != 2 {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 signature with version %d", v)
	}
	h := Header{Version: 2, Command: Command(b[12] & 0x0f)}
	if h.Command != Local && h.Command != Proxy {
		return Header{}, 0, fmt.Errorf("proxyproto: unknown v2 command %#x", b[12]&0x0f)
	}
	fam, trans := b[13]>>4, b[13]&0x0f
	length := int(binary.BigEndian.Uint16(b[14:16]))
	total := 16 + length
	if total > MaxV2Len {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 header of %d bytes is over the %d-byte limit", total, MaxV2Len)
	}
	if len(b) < total {
		return Header{}, 0, ErrTruncated
	}
	body := b[16:total]
	if trans > transDgram {
		return Header{}, 0, fmt.Errorf("proxyproto: unknown v2 transport %#x", trans)
	}
	h.Datagram = trans == transDgram
	var addrLen int
	switch fam {
	case afUnspec:
	case afInet:
		addrLen = 12
	case afInet6:
		addrLen = 36
	case afUnix:
		addrLen = 216
	default:
		return Header{}, 0, fmt.Errorf("proxyproto: unknown v2 address family %#x", fam)
	}
	if (fam == afUnspec) != (trans == transUnspec) && h.Command == Proxy {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 family %#x with transport %#x", fam, trans)
	}
	if len(body) < addrLen {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 addresses need %d bytes, the header has %d", addrLen, len(body))
	}
	if h.Command == Proxy {
		switch fam {
		case afInet:
			h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
		case afInet6:
			h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
		}
	}
	if err := checkTLVs(b[:total], 16+addrLen); err != nil {
		return Header{}, 0, err
	}
	return h, total, nil
}

// checkTLVs walks the TLVs of the v2 header hdr from offset off: each must
// fit in the header, and a CRC32C TLV must match the header's checksum (the
// spec requires a receiver to verify one that is present). Other types are
// skipped, unread.
func checkTLVs(hdr []byte, off int) error {
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return fmt.Errorf("proxyproto: v2 TLV at byte %d is cut short", off)
		}
		typ := hdr[off]
		n := int(binary.BigEndian.Uint16(hdr[off+1 : off+3]))
		val := off + 3
		if n > len(hdr)-val {
			return fmt.Errorf("proxyproto: v2 TLV type %#x at byte %d claims %d bytes, %d remain", typ, off, n, len(hdr)-val)
		}
		if typ == tlvCRC32C {
			if n != 4 {
				return fmt.Errorf("proxyproto: v2 CRC32C TLV of %d bytes, not 4", n)
			}
			want := binary.BigEndian.Uint32(hdr[val : val+4])
			c := crc32.Update(0, castagnoli, hdr[:val])
			c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
			c = crc32.Update(c, castagnoli, hdr[val+4:])
			if c != want {
				return fmt.Errorf("proxyproto: v2 CRC32C mismatch (header says %#08x, computed %#08x)", want, c)
			}
		}
		off = val + n
	}
	return nil
}

// parseV1 parses "PROXY TCP4 src dst sport dport\r\n" (or TCP6, or
// UNKNOWN with anything up to the CRLF).
func parseV1(b []byte) (Header, int, error) {
	end := bytes.Index(b[:min(len(b), MaxV1Len)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= MaxV1Len {
			return Header{}, 0, fmt.Errorf("proxyproto: v1 line has no CRLF within %d bytes", MaxV1Len)
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return Header{}, 0, errors.New("proxyproto: v1 line ends in LF without CR")
		}
		return Header{}, 0, ErrTruncated
	}
	n := end + 2
	line := b[len(v1Prefix):end]
	h := Header{Version: 1, Command: Proxy}
	fields := bytes.Split(line, []byte(" "))
	if len(fields) > 0 && string(fields[0]) == "UNKNOWN" {
		// The spec: ignore whatever follows, use the real endpoints.
		return h, n, nil
	}
	if len(fields) != 5 {
		return Header{}, 0, fmt.Errorf("proxyproto: v1 line %q does not have 5 fields after PROXY", line)
	}
	var want4 bool
	switch string(fields[0]) {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return Header{}, 0, fmt.Errorf("proxyproto: v1 protocol %q is not TCP4, TCP6 or UNKNOWN", fields[0])
	}
	var addrs [2]netip.Addr
	for i := range addrs {
		a, err := netip.ParseAddr(string(fields[1+i]))
		if err != nil || a.Is4() != want4 || a.Zone() != "" {
			return Header{}, 0, fmt.Errorf("proxyproto: v1 address %q is not an %s address", fields[1+i], fields[0])
		}
		addrs[i] = a
	}
	var ports [2]uint16
	for i := range ports {
		p, err := parsePort(fields[3+i])
		if err != nil {
			return Header{}, 0, err
		}
		ports[i] = p
	}
	h.Source = netip.AddrPortFrom(addrs[0], ports[0])
	h.Destination = netip.AddrPortFrom(addrs[1], ports[1])
	return h, n, nil
}

// parsePort parses a v1 port: decimal, 0-65535, no sign or leading zero.
func parsePort(f []byte) (uint16, error) {
	if len(f) == 0 || len(f) > 5 || (len(f) > 1 && f[0] == '0') {
		return 0, fmt.Errorf("proxyproto: v1 port %q is not a decimal 0-65535", f)
	}
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("proxyproto: v1 port %q is not a decimal 0-65535", f)
		}
	}
	p, err := strconv.ParseUint(string(f), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("proxyproto: v1 port %q is not a decimal 0-65535", f)
	}
	return uint16(p), nil
}

// AppendV2 appends a v2 header for h (Proxy with both addresses of one
// family, or Local) to dst. Bulwark never sends one; it exists so that
// tests and fuzz seeds build headers exactly as the spec lays them out.
func AppendV2(dst []byte, h Header, tlvs ...[]byte) []byte {
	dst = append(dst, v2Sig...)
	dst = append(dst, 0x20|byte(h.Command))
	trans := byte(transStream)
	if h.Datagram {
		trans = transDgram
	}
	var addrs []byte
	switch {
	case h.Command != Proxy || !h.Source.IsValid():
		dst = append(dst, 0)
	case h.Source.Addr().Is4():
		dst = append(dst, afInet<<4|trans)
		s, d := h.Source.Addr().As4(), h.Destination.Addr().As4()
		addrs = append(append(addrs, s[:]...), d[:]...)
	default:
		dst = append(dst, afInet6<<4|trans)
		s, d := h.Source.Addr().As16(), h.Destination.Addr().As16()
		addrs = append(append(addrs, s[:]...), d[:]...)
	}
	if len(addrs) > 0 {
		addrs = binary.BigEndian.AppendUint16(addrs, h.Source.Port())
		addrs = binary.BigEndian.AppendUint16(addrs, h.Destination.Port())
	}
	n := len(addrs)
	for _, t := range tlvs {
		n += len(t)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = append(dst, addrs...)
	for _, t := range tlvs {
		dst = append(dst, t...)
	}
	return dst
}

// TLV returns one encoded TLV, for AppendV2.
func TLV(typ byte, val []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(val))), val...)
}
