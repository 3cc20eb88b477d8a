package dnswire

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// BlockedText prefixes the list name in the EDE 15 (Blocked, RFC 8914) of
// block answers.
const BlockedText = "blocked by list "

// nullAddrs are the answers of the "null" action.
var nullAddrs = [...]netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}

// The SOA of negative block answers: its names and timers. The owner is a
// compression pointer into the question.
const (
	soaMname = "\x07bulwark\x07invalid\x00"
	soaRname = "\x0ahostmaster" // + a pointer to soaMname
)

// soaTimers are the SOA's serial, refresh, retry and expire; its minimum
// is the block TTL.
var soaTimers = [...]uint32{1, 3600, 600, 86400}

// Block is one block answer to write: what the client asked and what the
// deciding rule says.
type Block struct {
	ID uint16
	// Flags are the query's header flags (opcode, RD and CD are kept).
	Flags uint16
	// Question is the question section as the client wrote it (name in
	// the client's letter case, type, class), uncompressed.
	Question []byte
	QType    uint16
	// Owner is the offset in Question of the label where the SOA's owner
	// starts (the blocked name, a suffix of the question name), or -1 for
	// the root.
	Owner  int
	Action blocklist.Action
	// Sinkhole are the addresses of the sinkhole action.
	Sinkhole []netip.Addr
	TTL      uint32
	// EDNS asks for our OPT (with UDPSize and the client's DO bit)
	// carrying EDE 15 that names List.
	EDNS    bool
	DO      bool
	UDPSize uint16
	List    string
}

// BlockRcode is the rcode of the answer action gives.
func BlockRcode(action blocklist.Action) int {
	switch action {
	case blocklist.ActionRefused:
		return dns.RcodeRefused
	case blocklist.ActionNoData, blocklist.ActionNull, blocklist.ActionSinkhole, blocklist.ActionTCPOnly:
		return dns.RcodeSuccess
	}
	return dns.RcodeNameError // nxdomain, and any action this code does not know
}

// AppendBlock appends the block answer b in wire form: our header, the
// client's question, A/AAAA records for null and sinkhole (those of the
// asked type; none is NODATA), the SOA of negative answers so that
// clients cache the block for TTL seconds at most, and our OPT with EDE 15
// when the client sent EDNS. It is the one encoder of block answers: the
// UDP fast path sends its output as is, the pipeline's policy step unpacks
// it. The drop action has no answer; callers handle it first. The
// tcp-only action is an empty answer with TC=1, for UDP only.
func AppendBlock(dst []byte, b *Block) []byte {
	start := len(dst)
	rcode := BlockRcode(b.Action)
	dst = binary.BigEndian.AppendUint16(dst, b.ID)
	flags := AnswerFlags(b.Flags, rcode)
	if b.Action == blocklist.ActionTCPOnly { // RPZ rpz-tcp-only: retry over TCP
		flags |= FlagTC
	}
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = append(dst, 0, 1, 0, 0, 0, 0, 0, 0)
	dst = append(dst, b.Question...)
	var an, ns, ar uint16
	if b.Action == blocklist.ActionNull || b.Action == blocklist.ActionSinkhole {
		addrs := b.Sinkhole
		if b.Action == blocklist.ActionNull {
			addrs = nullAddrs[:]
		}
		for _, a := range addrs {
			var n uint16
			dst, n = appendAddr(dst, b.QType, a.Unmap(), b.TTL)
			an += n
		}
	}
	if rcode == dns.RcodeNameError || rcode == dns.RcodeSuccess && an == 0 && b.Action != blocklist.ActionTCPOnly {
		dst = appendSOA(dst, start, b.Owner, b.TTL)
		ns = 1
	}
	if b.EDNS {
		dst = AppendOPT(dst, b.UDPSize, b.DO, EDELen(len(BlockedText)+len(b.List)))
		dst = AppendEDE(dst, dns.ExtendedErrorCodeBlocked, BlockedText, b.List)
		ar = 1
	}
	SetCounts(dst[start:], 1, an, ns, ar)
	return dst
}

// appendAddr appends a as an A or AAAA record owned by the question name
// if its family is the one asked for; n is the records appended.
func appendAddr(dst []byte, qtype uint16, a netip.Addr, ttl uint32) (_ []byte, n uint16) {
	var rrtype uint16
	switch {
	case qtype == dns.TypeA && a.Is4():
		rrtype = dns.TypeA
	case qtype == dns.TypeAAAA && a.Is6():
		rrtype = dns.TypeAAAA
	default:
		return dst, 0
	}
	dst = append(dst, 0xC0, HeaderLen, byte(rrtype>>8), byte(rrtype), 0, byte(dns.ClassINET))
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	dst = binary.BigEndian.AppendUint16(dst, uint16(a.BitLen()/8))
	return append(dst, a.AsSlice()...), 1
}

// appendSOA appends the SOA of a negative answer, owned by the label at
// owner in the question (-1: the root); start is where the message begins.
func appendSOA(dst []byte, start, owner int, ttl uint32) []byte {
	if owner >= 0 {
		off := HeaderLen + owner
		dst = append(dst, 0xC0|byte(off>>8), byte(off))
	} else {
		dst = append(dst, 0)
	}
	dst = append(dst, 0, byte(dns.TypeSOA), 0, byte(dns.ClassINET))
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	rdlenAt := len(dst)
	dst = append(dst, 0, 0)
	mname := len(dst) - start
	dst = append(dst, soaMname...)
	dst = append(dst, soaRname...)
	dst = append(dst, 0xC0|byte(mname>>8), byte(mname))
	for _, v := range soaTimers {
		dst = binary.BigEndian.AppendUint32(dst, v)
	}
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	binary.BigEndian.PutUint16(dst[rdlenAt:], uint16(len(dst)-rdlenAt-2))
	return dst
}
