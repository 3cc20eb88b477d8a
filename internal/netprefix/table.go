package netprefix

import (
	"net/netip"
	"slices"
)

// Table is an immutable longest-prefix-match table from networks to
// values, for the address triggers of response policy zones (rpz-ip,
// rpz-client-ip, rpz-nsip). It is built once and looked up concurrently
// without locks or allocations. Per prefix length it keeps one sorted
// array of 16-byte keys (IPv4 as IPv4-mapped IPv6, length + 96) with no
// pointers, so a large feed costs the garbage collector nothing to scan.
type Table[V any] struct {
	levels []level[V] // longest prefix first
}

type level[V any] struct {
	bits uint8 // prefix length in the 128-bit space
	keys [][16]byte
	vals []V
}

// Entry is one network of a table being built.
type Entry[V any] struct {
	Prefix netip.Prefix
	Value  V
}

// NewTable builds a table of entries. Prefixes are masked; of entries
// with the same network, the first is kept (the caller orders them by
// precedence). Invalid prefixes are skipped.
func NewTable[V any](entries []Entry[V]) *Table[V] {
	byBits := map[uint8]*level[V]{}
	seen := map[netip.Prefix]bool{}
	for _, e := range entries {
		if !e.Prefix.IsValid() {
			continue
		}
		p := e.Prefix.Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		bits := uint8(p.Bits())
		if p.Addr().Is4() {
			bits += 96
		}
		l := byBits[bits]
		if l == nil {
			l = &level[V]{bits: bits}
			byBits[bits] = l
		}
		l.keys = append(l.keys, key(p.Addr()))
		l.vals = append(l.vals, e.Value)
	}
	t := &Table[V]{}
	for _, l := range byBits {
		idx := make([]int, len(l.keys))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return compareKeys(&l.keys[a], &l.keys[b]) })
		sorted := level[V]{bits: l.bits, keys: make([][16]byte, len(idx)), vals: make([]V, len(idx))}
		for i, j := range idx {
			sorted.keys[i], sorted.vals[i] = l.keys[j], l.vals[j]
		}
		t.levels = append(t.levels, sorted)
	}
	slices.SortFunc(t.levels, func(a, b level[V]) int { return int(b.bits) - int(a.bits) })
	return t
}

// Len returns the number of networks held.
func (t *Table[V]) Len() int {
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.levels {
		n += len(t.levels[i].keys)
	}
	return n
}

// Lookup returns the value of the longest network holding a, and that
// network's length as written (IPv4 lengths for IPv4 networks).
func (t *Table[V]) Lookup(a netip.Addr) (v V, bits int, ok bool) {
	if t == nil || !a.IsValid() {
		return v, 0, false
	}
	k := key(a.Unmap())
	for i := range t.levels {
		l := &t.levels[i]
		m := mask(k, l.bits)
		if j, found := slices.BinarySearchFunc(l.keys, m, func(x [16]byte, y [16]byte) int { return compareKeys(&x, &y) }); found {
			b := int(l.bits)
			if a.Unmap().Is4() {
				b -= 96
			}
			return l.vals[j], b, true
		}
	}
	return v, 0, false
}

// key is a's 16-byte form; IPv4 is IPv4-mapped, so that a /8 of IPv4 is
// a /104 of the same space and never meets an IPv6 network by accident.
func key(a netip.Addr) [16]byte {
	if a.Is4() {
		return netip.AddrFrom16(a.As16()).As16()
	}
	return a.As16()
}

func mask(k [16]byte, bits uint8) [16]byte {
	for i := range k {
		switch b := int(bits) - i*8; {
		case b >= 8:
		case b <= 0:
			k[i] = 0
		default:
			k[i] &= byte(0xff << (8 - b))
		}
	}
	return k
}

func compareKeys(a, b *[16]byte) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}
