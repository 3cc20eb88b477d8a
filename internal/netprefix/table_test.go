package netprefix

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestTableLookup(t *testing.T) {
	tab := NewTable([]Entry[string]{
		{netip.MustParsePrefix("10.0.0.0/8"), "ten"},
		{netip.MustParsePrefix("10.1.0.0/16"), "ten-one"},
		{netip.MustParsePrefix("10.1.0.0/16"), "duplicate: the first is kept"},
		{netip.MustParsePrefix("192.0.2.7/32"), "host"},
		{netip.MustParsePrefix("10.2.3.4/8"), "masked duplicate of ten"},
		{netip.MustParsePrefix("2001:db8::/32"), "doc6"},
		{netip.MustParsePrefix("2001:db8:1::/48"), "doc6-1"},
		{netip.MustParsePrefix("0.0.0.0/0"), "any4"},
		{netip.Prefix{}, "invalid: skipped"},
	})
	for _, tc := range []struct {
		addr string
		want string
		bits int
	}{
		{"10.9.9.9", "ten", 8},
		{"10.1.2.3", "ten-one", 16},
		{"192.0.2.7", "host", 32},
		{"192.0.2.8", "any4", 0},
		{"::ffff:10.1.2.3", "ten-one", 16}, // an IPv4-mapped client is its IPv4 address
		{"2001:db8:2::1", "doc6", 32},
		{"2001:db8:1::1", "doc6-1", 48},
		{"2001:db9::1", "", 0}, // no IPv6 default: ::/0 is not 0.0.0.0/0
	} {
		v, bits, ok := tab.Lookup(netip.MustParseAddr(tc.addr))
		if tc.want == "" {
			if ok {
				t.Errorf("Lookup(%s) = %q, want no match", tc.addr, v)
			}
			continue
		}
		if !ok || v != tc.want || bits != tc.bits {
			t.Errorf("Lookup(%s) = %q /%d %v, want %q /%d", tc.addr, v, bits, ok, tc.want, tc.bits)
		}
	}
	if n := tab.Len(); n != 6 {
		t.Errorf("Len = %d, want 6", n)
	}
	var nilTab *Table[int]
	if _, _, ok := nilTab.Lookup(netip.MustParseAddr("10.0.0.1")); ok || nilTab.Len() != 0 {
		t.Error("a nil table matched")
	}
}

// TestTableAgainstNaive compares Lookup with a scan of every prefix.
func TestTableAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var entries []Entry[int]
	for i := range 300 {
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
		entries = append(entries, Entry[int]{netip.PrefixFrom(a, 8+r.IntN(25)).Masked(), i})
	}
	tab := NewTable(entries)
	for range 2000 {
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
		want, wantBits, wantOK := -1, -1, false
		for _, e := range entries {
			if e.Prefix.Contains(a) && e.Prefix.Bits() > wantBits {
				want, wantBits, wantOK = e.Value, e.Prefix.Bits(), true
			}
		}
		got, bits, ok := tab.Lookup(a)
		if ok != wantOK || ok && (got != want || bits != wantBits) {
			t.Fatalf("Lookup(%s) = %d /%d %v, naive %d /%d %v", a, got, bits, ok, want, wantBits, wantOK)
		}
	}
}

func BenchmarkTableLookup(b *testing.B) {
	var entries []Entry[int]
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0})
		entries = append(entries, Entry[int]{netip.PrefixFrom(a, 24), i})
	}
	tab := NewTable(entries)
	a := netip.MustParseAddr("10.20.30.40")
	b.ReportAllocs()
	for b.Loop() {
		tab.Lookup(a)
	}
}
