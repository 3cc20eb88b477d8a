package cache

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/bulwark-dns/bulwark/resolver/dnswire"
	contract "github.com/bulwark-dns/bulwark/resolver/query"
	"github.com/miekg/dns"
)

// Key flag bits: answers differ with DO (DNSSEC records included) and CD
// (validation skipped upstream), so each combination is its own entry.
const (
	flagDO uint8 = 1 << iota
	flagCD
)

// key identifies one cached answer. It is comparable so it can key the LRU
// map directly; building one for an already lower-case name allocates nothing.
type key struct {
	name   string // canonical: ASCII lower case, escapes as miekg/dns prints them
	qtype  uint16
	qclass uint16
	flags  uint8
	// subnet is the EDNS Client Subnet the answer was asked for, when the
	// upstream forwards ECS (see WithSubnetKey); zero otherwise.
	subnet netip.Prefix
}

// requestKey is the cache key of req.
func requestKey(req *contract.Request) key {
	k := key{
		name:   canonicalName(req.Question.Name),
		qtype:  req.Question.Qtype,
		qclass: req.Question.Qclass,
	}
	if req.DO {
		k.flags |= flagDO
	}
	if req.Msg != nil && req.Msg.CheckingDisabled {
		k.flags |= flagCD
	}
	return k
}

// matchesWire reports whether the question of w (a message of one
// question) asks the question k was made for, without decoding it when
// the name is plain.
func (k key) matchesWire(w []byte) bool {
	if qd, _, _, _ := dnswire.Counts(w); qd != 1 {
		return false
	}
	end, ok := skipName(w, dnswire.HeaderLen)
	if !ok || end+4 > len(w) || w[end-1] != 0 || // a question's name is never compressed
		binary.BigEndian.Uint16(w[end:]) != k.qtype || binary.BigEndian.Uint16(w[end+2:]) != k.qclass {
		return false
	}
	if plain, eq := plainNameEqual(w[dnswire.HeaderLen:end], k.name); plain {
		return eq
	}
	name, _, err := dns.UnpackDomainName(w, dnswire.HeaderLen)
	return err == nil && canonicalName(name) == k.name
}

// plainNameEqual compares the wire name n with the canonical name s when
// both are plain (no octet miekg/dns escapes); plain is false otherwise.
func plainNameEqual(n []byte, s string) (plain, equal bool) {
	if strings.IndexByte(s, '\\') >= 0 {
		return false, false
	}
	i, eq := 0, true
	for off := 0; n[off] != 0; off += 1 + int(n[off]) {
		l := n[off : off+1+int(n[off])][1:]
		for j, c := range l {
			if !plainChar(c) {
				return false, false
			}
			eq = eq && i+j < len(s) && dnswire.Lower(c) == s[i+j]
		}
		i += len(l)
		eq = eq && i < len(s) && s[i] == '.'
		i++
	}
	if i == 0 { // the root
		return true, s == "."
	}
	return true, eq && i == len(s)
}

// canonicalName folds ASCII case (DNS names compare case-insensitively only
// in ASCII, RFC 4343) without allocating when s is already lower case. A
// name with escapes goes through the wire form, so `\065` and `a` agree and
// an escaped dot inside a label stays distinct from a label boundary.
func canonicalName(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			return canonicalEscaped(s)
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	if !upper {
		return s
	}
	return lowerASCII(s)
}

func lowerASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		b.WriteByte(dnswire.Lower(s[i]))
	}
	return b.String()
}

// canonicalEscaped packs s to wire form, folds it (length octets are < 64,
// so never mistaken for letters) and prints it back the way miekg/dns
// prints every name it unpacks.
func canonicalEscaped(s string) string {
	if !dns.IsFqdn(s) {
		return lowerASCII(s)
	}
	var buf [256]byte
	n, err := dns.PackDomainName(s, buf[:], 0, nil, false)
	if err != nil {
		return lowerASCII(s)
	}
	for i := range buf[:n] {
		buf[i] = dnswire.Lower(buf[i])
	}
	name, _, err := dns.UnpackDomainName(buf[:n], 0)
	if err != nil {
		return lowerASCII(s)
	}
	return name
}

// Keys are kept in the arena after each record, so that a hash collision
// is told from a hit: the name's bytes, then qtype, qclass and flags, then
// the subnet as a family byte (0 none, 4 or 6), its address and its length.

// keyLen is the length of k's encoding.
func keyLen(k key) int {
	n := len(k.name) + 6
	if k.subnet.IsValid() {
		n += k.subnet.Addr().BitLen()/8 + 1
	}
	return n
}

// appendKey appends k's encoding to b.
func appendKey(b []byte, k key) []byte {
	b = append(b, k.name...)
	b = append(b, byte(k.qtype>>8), byte(k.qtype), byte(k.qclass>>8), byte(k.qclass), k.flags)
	if !k.subnet.IsValid() {
		return append(b, 0)
	}
	a := k.subnet.Addr()
	b = append(b, byte(a.BitLen()/8+2)) // 6 for IPv4, 18 for IPv6: never 0
	b = append(b, a.AsSlice()...)
	return append(b, byte(k.subnet.Bits()))
}

// keyEqual reports whether b is the encoding of k, without allocating.
func keyEqual(b []byte, k key) bool {
	n := len(k.name)
	if len(b) != keyLen(k) || string(b[:n]) != k.name {
		return false
	}
	b = b[n:]
	if b[0] != byte(k.qtype>>8) || b[1] != byte(k.qtype) || b[2] != byte(k.qclass>>8) || b[3] != byte(k.qclass) || b[4] != k.flags {
		return false
	}
	if !k.subnet.IsValid() {
		return b[5] == 0
	}
	a := k.subnet.Addr()
	if b[5] != byte(a.BitLen()/8+2) || b[len(b)-1] != byte(k.subnet.Bits()) {
		return false
	}
	if a.Is4() {
		v := a.As4()
		return string(b[6:10]) == string(v[:])
	}
	v := a.As16()
	return string(b[6:22]) == string(v[:])
}
