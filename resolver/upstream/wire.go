package upstream

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size we advertise upstream: the DNS Flag Day
// 2020 value, small enough to avoid IP fragmentation (and the spoofing it
// allows) on common paths.
const ednsSize = 1232

// udpBufSize is the receive buffer for UDP replies. Upstreams should stay
// within ednsSize; a reply filling the buffer was cut by the kernel and is
// retried over TCP.
const udpBufSize = 4096

// buffers are one Resolve's scratch space, pooled: the query (with room for
// the TCP length prefix), the reply, and the order servers are asked in.
type buffers struct {
	query [2 + 512]byte // room for 2 + header 12 + name 255 + 4 + OPT 11 + ECS 24
	reply [udpBufSize]byte
	order []*server
}

// query is the wire form of the question we forward, built by hand once
// per Resolve (no dns.Msg, no allocation); each attempt gets a new ID.
type query struct {
	buf    []byte // 2-byte TCP length prefix, then the DNS message
	qlen   int    // length of the question section, at offset 12 of the message
	padded bool
}

// padBlock is RFC 8467's recommended block length for padded queries.
const padBlock = 128

// pad adds an EDNS Padding option (RFC 7830) making the message a
// multiple of padBlock octets, so an observer of encrypted traffic cannot
// tell names apart by length. Only DoT and DoH queries are padded; a query
// that fails over from them to plain DNS keeps it (harmless, < 512
// octets). It is idempotent.
func (q *query) pad() {
	if q.padded {
		return
	}
	n := len(q.buf) - 2 + 4 // message plus the option header
	size := n + (padBlock-n%padBlock)%padBlock
	if 2+size > cap(q.buf) {
		return // cannot happen with a 512-octet buffer; unpadded is still correct
	}
	buf := q.buf[:2+size]
	opt := 2 + 12 + q.qlen // the OPT record, the last in the message
	binary.BigEndian.PutUint16(buf[opt+9:], binary.BigEndian.Uint16(buf[opt+9:])+uint16(size-(len(q.buf)-2)))
	o := len(q.buf)
	binary.BigEndian.PutUint16(buf[o:], dns.EDNS0PADDING)
	binary.BigEndian.PutUint16(buf[o+2:], uint16(size-n))
	clear(buf[o+4:])
	binary.BigEndian.PutUint16(buf, uint16(size))
	q.buf, q.padded = buf, true
}

// packQuery writes the query for q into b: RD and CD as the client sent
// them, one question, and our own OPT (size ednsSize, DO as the client's,
// no options but ecs when valid) so nothing else of the client's EDNS
// reaches the upstream.
func packQuery(b []byte, q dns.Question, rd, cd, do bool, ecs netip.Prefix) (query, error) {
	msg := b[2:]
	clear(msg[:dnswire.HeaderLen])
	var flags uint16
	if rd {
		flags |= dnswire.FlagRD
	}
	if cd {
		flags |= dnswire.FlagCD
	}
	dnswire.SetFlags(msg, flags)
	dnswire.SetCounts(msg, 1, 0, 0, 1) // the question and our OPT
	name := q.Name
	if name == "" {
		return query{}, errors.New("no question name")
	}
	if !dns.IsFqdn(name) {
		name = dns.Fqdn(name)
	}
	off, err := dns.PackDomainName(name, msg, 12, nil, false)
	if err != nil {
		return query{}, err
	}
	if off-12 > 255 { // PackDomainName leaves this limit to its callers
		return query{}, dns.ErrLongDomain
	}
	binary.BigEndian.PutUint16(msg[off:], q.Qtype)
	binary.BigEndian.PutUint16(msg[off+2:], q.Qclass)
	qlen := off + 4 - 12
	off += 4
	// OPT: root name, type 41, class = UDP size, TTL = ext-rcode, version,
	// DO flag, then an empty RDATA.
	opt := msg[off : off+dnswire.OPTLen]
	dnswire.AppendOPT(opt[:0], ednsSize, do, 0)
	off += dnswire.OPTLen
	if ecs.IsValid() {
		n := putECS(msg[off:], ecs)
		binary.BigEndian.PutUint16(opt[9:], uint16(n))
		off += n
	}
	binary.BigEndian.PutUint16(b, uint16(off))
	return query{buf: b[:2+off], qlen: qlen}, nil
}

// putECS writes an EDNS Client Subnet option (RFC 7871 section 6) for p
// into b: family, source prefix, scope 0, and only the address octets the
// prefix covers, its host bits zero. It returns the bytes written.
func putECS(b []byte, p netip.Prefix) int {
	p = p.Masked()
	family, addr := uint16(2), p.Addr().As16()
	raw := addr[:]
	if p.Addr().Is4() {
		a4 := p.Addr().As4()
		family, raw = 1, a4[:]
	}
	n := (p.Bits() + 7) / 8
	binary.BigEndian.PutUint16(b[0:], dns.EDNS0SUBNET)
	binary.BigEndian.PutUint16(b[2:], uint16(4+n))
	binary.BigEndian.PutUint16(b[4:], family)
	b[6] = byte(p.Bits())
	b[7] = 0
	copy(b[8:], raw[:n])
	return 8 + n
}

// udp and tcp are the bytes to send on each transport.
func (q *query) udp() []byte { return q.buf[2:] }
func (q *query) tcp() []byte { return q.buf }

// newID gives the query a fresh random ID, so each attempt (and each
// reply we accept) must guess a new 16 bits in addition to the port.
func (q *query) newID() {
	q.setID(uint16(rand.Uint32()))
}

// setID sets the message ID: unique per connection on a pipelined stream,
// 0 over HTTPS (RFC 8484 section 4.1).
func (q *query) setID(id uint16) {
	binary.BigEndian.PutUint16(q.buf[2:], id)
}

// clone copies q into b, for a second attempt running at the same time.
func (q *query) clone(b *buffers) query {
	n := copy(b.query[:], q.buf)
	return query{buf: b.query[:n], qlen: q.qlen, padded: q.padded}
}

// matches reports whether reply answers q: same ID, QR set, opcode QUERY,
// exactly our question (name compared case-insensitively, type and class
// exactly). It reads only the header and question, so forged or stray
// packets are dropped before any parsing or allocation.
func (q *query) matches(reply []byte) bool {
	msg := q.udp()
	end := 12 + q.qlen
	if len(reply) < end ||
		reply[0] != msg[0] || reply[1] != msg[1] || // ID
		dnswire.Flags(reply)&dnswire.FlagQR == 0 || dnswire.Opcode(dnswire.Flags(reply)) != dns.OpcodeQuery ||
		reply[4] != 0 || reply[5] != 1 { // QDCOUNT
		return false
	}
	// Our name is uncompressed and valid, so its length octets (< 64)
	// only equal themselves under folding: the names match iff every byte
	// matches case-insensitively, with no label parsing.
	for i := 12; i < end-4; i++ {
		if dnswire.Lower(reply[i]) != dnswire.Lower(msg[i]) {
			return false
		}
	}
	return string(reply[end-4:end]) == string(msg[end-4:end])
}
