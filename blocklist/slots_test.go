package blocklist

import (
	"fmt"
	"testing"
)

// TestSlotWidths builds sets across the trie's slot widths (a byte a slot
// up to 256 distinct rules, 4 bytes past) and the compile's pair index
// widths (a byte a node up to 256 pairs, 4 bytes past), and matches them
// against the reference.
func TestSlotWidths(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rules, names  int
		narrow, pairs bool // want a byte a slot, a byte a pair index
	}{
		{"narrow slots, few pairs", 3, 2000, true, true},
		{"narrow slots, many pairs", 255, 3000, true, false},
		{"wide slots, many pairs", 400, 3000, false, false},
		{"wide slots, few pairs", 400, -400, false, true}, // -n: n rules at 8 names
		{"wide slots, many names", 2000, 20000, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ref := NewBuilder(), newRef()
			b.opts.seed = 5
			var queries []string
			for i := range max(tc.names, -tc.names) {
				name := fmt.Sprintf("n%d.d%d.t%d", i, i%97, i%7)
				switch {
				case tc.names < 0:
					name = fmt.Sprintf("d%d.t1", i%8)
				case i%4 == 0:
					name = fmt.Sprintf("d%d.t%d", i%97, i%7) // rules on inner nodes too
				}
				d := i % tc.rules // the rule's value follows from d alone
				rule := Rule{Name: name, Scope: Scope(d % 3), Allow: d%11 == 0,
					Payload: Payload{List: uint16(d % 5), Action: ActionNXDomain, Data: uint32(d)}}
				if err, rerr := b.Add(rule), ref.add(rule); err != nil || rerr != nil {
					t.Fatal(err, rerr)
				}
				queries = append(queries, name, "x."+name)
			}
			narrow := len(b.rules) <= 1<<8
			s, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if pairs := len(s.pairs) <= 1<<8; narrow != tc.narrow || pairs != tc.pairs {
				t.Fatalf("%d rules, %d pairs: want narrow slots %v, byte pairs %v", tc.rules, len(s.pairs), tc.narrow, tc.pairs)
			}
			for _, q := range queries {
				m, ok := s.Match(q)
				rm, rok := ref.match(q)
				if ok != rok || m != rm {
					t.Fatalf("Match(%q) = %+v/%v, reference %+v/%v", q, m, ok, rm, rok)
				}
			}
		})
	}
}

// TestReleaseAtEnd builds sets whose last written subtree, released by
// write (releaseSubtree), ends at the last node, with node counts on
// either side of a stride of labelStride nodes (write carries the cursor
// of the node after the subtree, whose stride packInfo closes), and
// matches them against the reference.
func TestReleaseAtEnd(t *testing.T) {
	for _, nodes := range []int{2 * releaseNodes, 2*releaseNodes + 1, 2*releaseNodes + labelStride - 1, 2*releaseNodes + labelStride + 1, 2*releaseNodes + 63, 4*releaseNodes - 64} {
		t.Run(fmt.Sprint(nodes), func(t *testing.T) {
			// The root, one TLD and its children.
			b, ref := NewBuilder(), newRef()
			for i := range nodes - 2 {
				rule := Rule{Name: fmt.Sprintf("a%d.t", i), Allow: i%3 == 0}
				if err, rerr := b.Add(rule), ref.add(rule); err != nil || rerr != nil {
					t.Fatal(err, rerr)
				}
			}
			s, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"a0.t", "x.a1.t", fmt.Sprintf("a%d.t", nodes-3), "t", "b.t"} {
				m, ok := s.Match(q)
				rm, rok := ref.match(q)
				if ok != rok || m != rm {
					t.Fatalf("Match(%q) = %+v/%v, reference %+v/%v", q, m, ok, rm, rok)
				}
			}
		})
	}
}
