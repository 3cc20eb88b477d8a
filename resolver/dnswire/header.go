// Package dnswire reads and writes the few parts of a DNS message that the
// request path shapes by hand: header flags, the OPT record with its
// extended errors, and block answers. The UDP fast path, the cache's
// zero-copy answers and the upstream code share it, so each bit has one
// name and each answer one encoder. It knows nothing of the pipeline.
package dnswire

import (
	"encoding/binary"
	"strings"
)

// HeaderLen is the size of the fixed message header (RFC 1035 §4.1.1).
const HeaderLen = 12

// Bits of the 16-bit flags word at offset 2 of the header (RFC 1035
// §4.1.1, RFC 4035 §3.2).
const (
	FlagQR     uint16 = 1 << 15 // a response
	MaskOpcode uint16 = 0xF << 11
	FlagAA     uint16 = 1 << 10 // authoritative answer
	FlagTC     uint16 = 1 << 9  // truncated
	FlagRD     uint16 = 1 << 8  // recursion desired
	FlagRA     uint16 = 1 << 7  // recursion available
	FlagAD     uint16 = 1 << 5  // authentic data
	FlagCD     uint16 = 1 << 4  // checking disabled
	MaskRcode  uint16 = 0xF
)

// Offsets of the header's fields.
const (
	offID      = 0
	offFlags   = 2
	offQDCount = 4
	offANCount = 6
	offNSCount = 8
	offARCount = 10
)

// ID returns the message ID of w, which must hold a header.
func ID(w []byte) uint16 { return binary.BigEndian.Uint16(w[offID:]) }

// SetID sets the message ID of w.
func SetID(w []byte, id uint16) { binary.BigEndian.PutUint16(w[offID:], id) }

// Flags returns the flags word of w, which must hold a header.
func Flags(w []byte) uint16 { return binary.BigEndian.Uint16(w[offFlags:]) }

// SetFlags sets the flags word of w.
func SetFlags(w []byte, f uint16) { binary.BigEndian.PutUint16(w[offFlags:], f) }

// Opcode returns the opcode of flags f.
func Opcode(f uint16) int { return int(f&MaskOpcode) >> 11 }

// Rcode returns the (4-bit header) rcode of w.
func Rcode(w []byte) int { return int(Flags(w) & MaskRcode) }

// Counts returns the four section counts of w's header.
func Counts(w []byte) (qd, an, ns, ar uint16) {
	return binary.BigEndian.Uint16(w[offQDCount:]), binary.BigEndian.Uint16(w[offANCount:]),
		binary.BigEndian.Uint16(w[offNSCount:]), binary.BigEndian.Uint16(w[offARCount:])
}

// SetCounts sets the four section counts of w's header.
func SetCounts(w []byte, qd, an, ns, ar uint16) {
	binary.BigEndian.PutUint16(w[offQDCount:], qd)
	binary.BigEndian.PutUint16(w[offANCount:], an)
	binary.BigEndian.PutUint16(w[offNSCount:], ns)
	binary.BigEndian.PutUint16(w[offARCount:], ar)
}

// AnswerFlags is the flags word of our answer to a query with flags q
// carrying rcode: QR and RA set, the client's opcode, RD and CD kept, AA
// clear (a resolver is not the authority for what it relays, RFC 1035
// §4.1.1), TC clear.
func AnswerFlags(q uint16, rcode int) uint16 {
	return FlagQR | FlagRA | q&(MaskOpcode|FlagRD|FlagCD) | uint16(rcode)&MaskRcode
}

// ShapeAnswer rewrites the header of the answer w (packed by the cache,
// say) as AnswerFlags shapes it for a client whose query had flags q and
// the DO bit do; the answer's own rcode and Z bits are kept, and its AD
// bit where WantsAD says so.
func ShapeAnswer(w []byte, q uint16, do bool) {
	ours := FlagQR | FlagRA | MaskOpcode | FlagAA | FlagTC | FlagRD | FlagCD
	if !WantsAD(q&FlagAD != 0, do) {
		ours |= FlagAD
	}
	SetFlags(w, Flags(w)&^ours|FlagQR|FlagRA|q&(MaskOpcode|FlagRD|FlagCD))
}

// WantsAD reports whether a client is shown the AD bit of a validated
// answer: only one that asked for it, with AD or DO (RFC 6840 §5.7). The
// validator sets AD on every validated answer, which the cache shares.
func WantsAD(askedAD, do bool) bool { return askedAD || do }

// Canonical returns a name as logs show it: lower case, no trailing dot
// (the root stays ".").
func Canonical(name string) string {
	if len(name) > 1 {
		name = strings.TrimSuffix(name, ".")
	}
	return strings.ToLower(name)
}

// QuestionName renders an uncompressed wire name of plain labels (no
// escapes needed) in presentation form with its trailing dot, letter case
// kept.
func QuestionName(wire []byte) string {
	b := make([]byte, 0, len(wire))
	for i := 0; i < len(wire) && wire[i] != 0; i += 1 + int(wire[i]) {
		b = append(b, wire[i+1:i+1+int(wire[i])]...)
		b = append(b, '.')
	}
	return string(b)
}

// MaxNameLen is the longest name in wire octets (RFC 1035 §2.3.4).
const MaxNameLen = 255
