package dnswire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// OPTLen is the size of an OPT record without options.
const OPTLen = 11

// optDO is the DO bit in the high byte of the OPT TTL's flags.
const optDO = 0x80

// OPT is what the OPT pseudo-record of a query tells (RFC 6891 §6.1.3).
type OPT struct {
	UDPSize uint16
	Version uint8
	DO      bool
	// Len is the record's length on the wire, options included.
	Len int
}

// ParseOPT reads the OPT record at the start of w: root owner, type 41.
// Its options are skipped, as the request path ignores them.
func ParseOPT(w []byte) (OPT, bool) {
	if len(w) < OPTLen || w[0] != 0 || binary.BigEndian.Uint16(w[1:]) != dns.TypeOPT {
		return OPT{}, false
	}
	rdlen := int(binary.BigEndian.Uint16(w[9:]))
	if OPTLen+rdlen > len(w) {
		return OPT{}, false
	}
	return OPT{UDPSize: binary.BigEndian.Uint16(w[3:]), Version: w[6], DO: w[7]&optDO != 0, Len: OPTLen + rdlen}, true
}

// AppendOPT appends our OPT record: root owner, our UDP size, extended
// rcode 0, version 0, the client's DO bit, and rdlen octets of options
// still to be appended by the caller.
func AppendOPT(dst []byte, udpSize uint16, do bool, rdlen int) []byte {
	var flags byte
	if do {
		flags = optDO
	}
	dst = append(dst, 0, byte(dns.TypeOPT>>8), byte(dns.TypeOPT), byte(udpSize>>8), byte(udpSize), 0, 0, flags, 0)
	return binary.BigEndian.AppendUint16(dst, uint16(rdlen))
}

// EDELen is the wire length of an EDE option whose extra text is n
// octets.
func EDELen(n int) int { return 4 + 2 + n }

// AppendEDE appends an Extended DNS Error option (RFC 8914) whose extra
// text is text1 followed by text2 (two parts, so that callers need not
// concatenate on the query path).
func AppendEDE(dst []byte, code uint16, text1, text2 string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, dns.EDNS0EDE)
	dst = binary.BigEndian.AppendUint16(dst, uint16(2+len(text1)+len(text2)))
	dst = binary.BigEndian.AppendUint16(dst, code)
	dst = append(dst, text1...)
	return append(dst, text2...)
}
