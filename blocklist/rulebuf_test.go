package blocklist

import (
	"bytes"
	"runtime"
	"testing"
)

// TestRuleBufferPaths builds one list through every way the rule and
// tail buffers can be held: on the heap throughout, moving from the heap
// into a mapping and then to bigger ones as they grow, mapped from the
// start by Grow, and built part-way (Build) before the rest is added. The
// set must be the same bytes every way, and Finish must leave no mapping.
func TestRuleBufferPaths(t *testing.T) {
	rules := testRules(60000) // 1.4 MB of entries: past scratchMin
	small := rules[:2000]     // a few KB: the heap
	tests := []struct {
		name    string
		rules   []Rule
		grow    int // Grow before the first Add; 0: none
		buildAt int // Build after this many rules as well; 0: never
		mapped  bool
	}{
		{"small, heap only", small, 0, 0, false},
		{"small, grown", small, 100, 0, false},
		{"large, grows into mappings", rules, 0, 0, true},
		{"large, reserved short", rules, 1000, 0, true},
		{"large, reserved by Grow", rules, len(rules), 0, true},
		{"large, built part-way", rules, 0, 40000, true},
	}
	want := map[int][]byte{}
	for _, rs := range [][]Rule{small, rules} {
		b := NewBuilder()
		b.opts.seed = 11
		for _, r := range rs {
			if err := b.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		want[len(rs)] = snapshot(t, build(t, b))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder()
			b.opts.seed = 11
			if tc.grow > 0 {
				b.Grow(tc.grow)
			}
			for i, r := range tc.rules {
				if tc.buildAt > 0 && i == tc.buildAt {
					build(t, b)
				}
				if err := b.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			mapped := scratchOwns(b.mem, b.ents)
			if canMap() && mapped != tc.mapped {
				t.Errorf("rule buffer mapped = %v, want %v", mapped, tc.mapped)
			}
			s, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snapshot(t, s), want[len(tc.rules)]) {
				t.Error("the set differs from one built on the heap")
			}
			if b.mem != nil && len(b.mem.maps) != 0 {
				t.Error("Finish left the buffers mapped")
			}
		})
	}
}

// TestDroppedBuildersUnmapped drops large builders without Finish, as a
// feed that fails mid-parse or a cancelled refresh does, some after a
// Build, and checks that their mappings go with them: the process's
// mapped size (VmSize) must come back to near where it started, where
// leaked mappings would hold every builder's reservation.
func TestDroppedBuildersUnmapped(t *testing.T) {
	if !canMap() {
		t.Skip("no anonymous mappings on this system: the buffers are on the heap")
	}
	const builders, reserve = 40, 1 << 18 // each maps about 11 MB
	rules := testRules(1000)
	runtime.GC()
	before := procStatusMB(t, "VmSize")
	var each float64
	for i := range builders {
		b := NewBuilder()
		b.Grow(reserve)
		if !scratchOwns(b.mem, b.ents) {
			t.Fatal("Grow did not map the rule buffer")
		}
		each = 0
		for _, m := range b.mem.maps {
			each += float64(len(m)) / (1 << 20)
		}
		for _, r := range rules {
			if err := b.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			build(t, b)
		}
	}
	// Leaked, the builders would hold builders*each MB; allow a quarter
	// of it for the heap's own growth and cleanups not run yet.
	limit := before + builders*each/4
	after := procStatusMB(t, "VmSize")
	for i := 0; i < 200 && after > limit; i++ {
		runtime.GC() // queues the cleanups of the builders it frees
		runtime.Gosched()
		after = procStatusMB(t, "VmSize")
	}
	if after > limit {
		t.Errorf("VmSize %.0f MB after dropping %d builders of %.1f MB mapped each, %.0f MB before: their mappings leaked", after, builders, each, before)
	}
}

// canMap reports whether the builder's buffers can be mapped here.
func canMap() bool {
	b, err := mapPages(scratchMin)
	if err != nil {
		return false
	}
	unmapPages(b)
	return true
}
