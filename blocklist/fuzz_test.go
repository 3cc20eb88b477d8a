package blocklist

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// fuzzLabels is the vocabulary rule and query names are drawn from: few
// enough that names collide and nest, with case, IDN, underscore, hyphen,
// maximum-length and invalid labels.
var fuzzLabels = []string{
	"a", "b", "c", "com", "ab", "xn--bcher-kva", "_dm", "a-b", "A", "COM", "x0", "net",
	strings.Repeat("z", 63), "b-c", "9", "ba", "abc", "-x", "",
}

// queryJunk are labels only queries contain: escapes, non-ASCII, spaces,
// over-long and empty labels.
var queryJunk = []string{"", `a\.b`, `\032`, "\xc3\xa9", "a b", `a\`, `\\`, strings.Repeat("q", 64), "*", "a.b", "."}

type fuzzInput struct {
	data []byte
}

func (f *fuzzInput) next() byte {
	if len(f.data) == 0 {
		return 0
	}
	c := f.data[0]
	f.data = f.data[1:]
	return c
}

func (f *fuzzInput) name(extra []string) string {
	n := int(f.next() % 5)
	labels := make([]string, n)
	for i := range labels {
		k := int(f.next()) % (len(fuzzLabels) + len(extra))
		if k < len(fuzzLabels) {
			labels[i] = fuzzLabels[k]
		} else {
			labels[i] = extra[k-len(fuzzLabels)]
		}
	}
	return strings.Join(labels, ".")
}

// decodeFuzz turns fuzz bytes into layout knobs, rules and queries.
func decodeFuzz(data []byte) (layoutOpts, []Rule, []string) {
	in := &fuzzInput{data: data}
	c := in.next()
	opts := layoutOpts{
		smallMax:  []int{-1, 1, 2, defaultSmallMax}[c&3],
		perBucket: 10 * (int(c>>2&3) + 1),
		seed:      uint64(c)*0x9e3779b97f4a7c15 | 1,
	}
	var rules []Rule
	for range int(in.next() % 24) {
		ctl := in.next()
		rules = append(rules, Rule{
			Name:    in.name(nil),
			Scope:   Scope(ctl & 3), // 3 is invalid on purpose
			Allow:   ctl&4 != 0,
			Payload: Payload{List: uint16(ctl >> 3 & 3), Category: uint16(ctl >> 5), Action: Action(ctl >> 6), Data: uint32(ctl)},
		})
		if ctl&0x80 != 0 {
			rules[len(rules)-1].Name += "."
		}
	}
	var queries []string
	for _, rule := range rules {
		queries = append(queries, rule.Name, "x."+rule.Name, strings.ToUpper(rule.Name))
	}
	for range int(in.next() % 16) {
		ctl := in.next()
		q := []byte(in.name(queryJunk))
		for i, ch := range q {
			if ctl&0x40 != 0 && 'a' <= ch && ch <= 'z' && in.next()&1 == 1 {
				q[i] = ch - 'a' + 'A'
			}
		}
		if ctl&0x80 != 0 {
			q = append(q, '.')
		}
		queries = append(queries, string(q))
	}
	queries = append(queries, string(in.data), "", ".")
	return opts, rules, queries
}

// FuzzMatchDifferential builds a set and the naive reference from the same
// rules and checks that they agree on every query, on Walk and Len, and
// again after a snapshot round trip.
func FuzzMatchDifferential(f *testing.F) {
	f.Add([]byte{0, 3, 0, 2, 1, 3, 4, 2, 1, 3, 2, 2, 0, 4, 1, 3})
	f.Add([]byte{1, 5, 4, 2, 0, 3, 1, 1, 2, 2, 3, 1, 3, 5, 1, 8, 9, 0, 3, 0, 3, 0xc4, 2, 4, 3, 'a', 'B'})
	f.Add([]byte{2, 10, 0, 1, 0, 1, 1, 1, 1, 2, 0, 2, 1, 1, 3, 3, 1, 4, 1, 1, 5, 4, 2, 3, 1, 6, 2, 0, 1, 7, 0, 2, 1, 1, 8, 3, 1, 1, 9, 6, 0x40, 2, 1, 2, 0x80, 3, 0, 1, 2})
	f.Add([]byte{7, 4, 6, 0, 0x84, 2, 3, 0, 0x81, 3, 0, 0, 0, 5, 1, 0, 4, 0x40, 3, 19, 20, 21, 0x80, 2, 22, 23})
	f.Add(bytes.Repeat([]byte{3, 1, 2, 0}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts, rules, queries := decodeFuzz(data)
		b := NewBuilder()
		b.opts = opts
		ref := newRef()
		for _, rule := range rules {
			err, rerr := b.Add(rule), ref.add(rule)
			if (err == nil) != (rerr == nil) {
				t.Fatalf("Add(%+v) = %v, reference says %v", rule, err, rerr)
			}
		}
		s := build(t, b)
		check := func(s *Set, stage string) {
			if s.Len() != ref.len() {
				t.Fatalf("%s: Len() = %d, reference %d", stage, s.Len(), ref.len())
			}
			for _, q := range queries {
				m, ok := s.Match(q)
				rm, rok := ref.match(q)
				if ok != rok || m != rm {
					t.Fatalf("%s: Match(%q) = %+v/%v, reference %+v/%v", stage, q, m, ok, rm, rok)
				}
				var walk []Match
				s.Walk(q, func(m Match) { walk = append(walk, m) })
				if rw := ref.walk(q); !equalMatches(walk, rw) {
					t.Fatalf("%s: Walk(%q) = %+v, reference %+v", stage, q, walk, rw)
				}
			}
		}
		check(s, "built")
		// Every view over the four lists the rules use must decide as the
		// reference holding only those lists' rules.
		for mask := range 16 {
			var v View
			for l := range 4 {
				if mask&(1<<l) != 0 {
					v = v.With(uint16(l))
				}
			}
			vref := ref.only(v)
			for _, q := range queries {
				m, ok := s.MatchView(q, v)
				rm, rok := vref.match(q)
				if ok != rok || m != rm {
					t.Fatalf("MatchView(%q, lists %04b) = %+v/%v, reference %+v/%v", q, mask, m, ok, rm, rok)
				}
			}
		}
		var buf bytes.Buffer
		if _, err := s.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		s2, err := ReadSet(&buf)
		if err != nil {
			t.Fatalf("ReadSet of a fresh snapshot: %v", err)
		}
		check(s2, "reloaded")
		// The same rules as consecutive lists, each compiled alone and
		// merged in order (how feeds rebuilds the table).
		for _, parts := range []int{2, 3} {
			mb := NewBuilder()
			mb.opts = opts
			for k := range parts {
				pb := NewBuilder()
				pb.opts = opts
				for _, rule := range rules[k*len(rules)/parts : (k+1)*len(rules)/parts] {
					_ = pb.Add(rule)
				}
				ps := build(t, pb)
				if err := mb.AddSet(ps, nil); err != nil {
					t.Fatal(err)
				}
			}
			ms := build(t, mb)
			check(ms, fmt.Sprintf("merged from %d sets", parts))
		}
	})
}

func equalMatches(a, b []Match) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
