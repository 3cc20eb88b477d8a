package blocklist

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestNetSetZoneOrder pins the RPZ order of address triggers: the first
// list with a matching network decides, whatever a later list holds; within
// a list the longest prefix decides, and allow wins at the same network.
func TestNetSetZoneOrder(t *testing.T) {
	rule := func(p string, list uint16, allow bool, a Action) NetRule {
		return NetRule{Prefix: netip.MustParsePrefix(p), Allow: allow, Payload: Payload{List: list, Action: a}}
	}
	s := NewNetSet([]NetRule{
		rule("10.9.0.0/16", 2, false, ActionNXDomain), // a later zone's more specific block
		rule("10.0.0.0/8", 1, true, ActionNXDomain),   // an earlier zone's broader passthru
		rule("192.0.2.0/24", 1, false, ActionNoData),
		rule("192.0.2.128/25", 1, false, ActionDrop),
		rule("198.51.100.0/24", 3, false, ActionDrop),
		rule("198.51.100.0/24", 3, true, ActionDrop), // allow wins at the same network
		rule("2001:db8::/32", 2, false, ActionTCPOnly),
	})
	for _, tc := range []struct {
		addr   string
		before int
		want   string // "" no match; "allow" or the action, then the list
		list   uint16
	}{
		{"10.9.1.1", NoList, "allow", 1}, // zone order beats specificity
		{"10.9.1.1", 2, "allow", 1},      // lists before 2 only
		{"10.9.1.1", 1, "", 0},           // nothing before list 1
		{"192.0.2.1", NoList, "nodata", 1},
		{"192.0.2.200", NoList, "drop", 1}, // the longest prefix within the zone
		{"198.51.100.7", NoList, "allow", 3},
		{"2001:db8::53", NoList, "tcp-only", 2},
		{"203.0.113.1", NoList, "", 0},
	} {
		m, ok := s.Match(netip.MustParseAddr(tc.addr), tc.before)
		got := ""
		if ok {
			got = m.Payload.Action.String()
			if m.Allow {
				got = "allow"
			}
		}
		if got != tc.want || ok && m.Payload.List != tc.list {
			t.Errorf("Match(%s, %d) = %q list %d, want %q list %d", tc.addr, tc.before, got, m.Payload.List, tc.want, tc.list)
		}
	}
	if s.Len() != 6 {
		t.Errorf("Len = %d, want 6", s.Len())
	}
	if NewNetSet(nil) != nil {
		t.Error("an empty set is not nil")
	}
}

// TestNetSetReplace: replacing one list's networks answers every address
// as the set built afresh with that list's new networks does, whatever
// the list's place (first, middle, last, new, emptied).
func TestNetSetReplace(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	rule := func(list uint16) NetRule {
		bits := 8 * (1 + rng.IntN(4))
		a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(3)), byte(rng.IntN(3))})
		return NetRule{Prefix: netip.PrefixFrom(a, bits).Masked(), Allow: rng.IntN(3) == 0,
			Payload: Payload{List: list, Action: Action(rng.IntN(3))}}
	}
	for round := range 300 {
		var base []NetRule
		for range rng.IntN(12) {
			base = append(base, rule(uint16(rng.IntN(4))))
		}
		list := uint16(rng.IntN(5))
		var mine []NetRule
		for range rng.IntN(4) {
			mine = append(mine, rule(list))
		}
		want := slices.DeleteFunc(slices.Clone(base), func(r NetRule) bool { return r.Payload.List == list })
		want = append(want, mine...)
		ws := NewNetSet(want)
		gs := NewNetSet(base).Replace(list, mine)
		if (gs == nil) != (ws == nil) || gs.Len() != ws.Len() {
			t.Fatalf("round %d: Replace(%d) len %d (nil %v), built afresh %d (nil %v)", round, list, gs.Len(), gs == nil, ws.Len(), ws == nil)
		}
		for range 40 {
			a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(3)), byte(rng.IntN(3))})
			before := 1 + rng.IntN(5)
			if rng.IntN(2) == 0 {
				before = NoList
			}
			gm, gok := gs.Match(a, before)
			wm, wok := ws.Match(a, before)
			if gm != wm || gok != wok {
				t.Fatalf("round %d: base %v, list %d now %v: Match(%s, %d) = %+v %v, built afresh %+v %v",
					round, base, list, mine, a, before, gm, gok, wm, wok)
			}
		}
	}
}
