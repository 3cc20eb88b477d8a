package blocklist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// testRules makes a deterministic list that exercises every record form:
// bucketed blocks (many children under com), dictionary labels (www, cdn
// and metrics under many names), long labels, all scopes and enough
// distinct payloads for explicitly numbered rule pairs.
func testRules(n int) []Rule {
	rng := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "net", "org", "co.uk", "io"}
	subs := []string{"www", "cdn", "metrics", "telemetry"}
	var rules []Rule
	for i := range n {
		name := fmt.Sprintf("d%x%s.%s", i, strings.Repeat("q", rng.IntN(40)), tlds[rng.IntN(len(tlds))])
		switch rng.IntN(4) {
		case 0:
			name = subs[rng.IntN(len(subs))] + "." + name
		case 1:
			name = fmt.Sprintf("h%d.%s.%s", rng.IntN(9), subs[rng.IntN(len(subs))], name)
		}
		list := uint16(rng.IntN(6))
		rules = append(rules, Rule{Name: name, Scope: Scope(rng.IntN(3)), Allow: rng.IntN(5) == 0,
			Payload: Payload{List: list, Category: list % 3, Action: Action(list % 6), Data: uint32(rng.IntN(3))}})
	}
	return rules
}

func testQueries(rules []Rule) []string {
	var qs []string
	for _, rule := range rules {
		qs = append(qs, rule.Name, "x."+rule.Name+".", strings.ToUpper(rule.Name), "miss"+rule.Name)
		if i := strings.IndexByte(rule.Name, '.'); i > 0 {
			qs = append(qs, rule.Name[i+1:])
		}
	}
	return qs
}

func buildRules(t testing.TB, rules []Rule) *Set {
	t.Helper()
	return mustBuild(t, rules...)
}

func snapshot(t testing.TB, s *Set) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 50, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rules := testRules(n)
			s := buildRules(t, rules)
			data := snapshot(t, s)
			s2, err := ReadSet(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if s2.Len() != s.Len() {
				t.Errorf("Len() = %d after reload, %d before", s2.Len(), s.Len())
			}
			if s2.SizeBytes() != s.SizeBytes() {
				t.Errorf("SizeBytes() = %d after reload, %d before", s2.SizeBytes(), s.SizeBytes())
			}
			for _, q := range testQueries(rules) {
				m1, ok1 := s.Match(q)
				m2, ok2 := s2.Match(q)
				if m1 != m2 || ok1 != ok2 {
					t.Fatalf("Match(%q) = %+v/%v after reload, %+v/%v before", q, m2, ok2, m1, ok1)
				}
			}
			if again := snapshot(t, s2); !bytes.Equal(again, data) {
				t.Error("a reloaded set writes a different snapshot")
			}
		})
	}
}

// TestSnapshotUsesDictionaryAndBuckets guards the round-trip test: it is
// only meaningful if the test set holds every record form.
func TestSnapshotUsesDictionaryAndBuckets(t *testing.T) {
	s := buildRules(t, testRules(3000))
	if len(s.dict) == 0 || len(s.dir) == 0 || len(s.pairs) <= 3 {
		t.Fatalf("test set lacks a record form: dict %d, dir %d, pairs %d", len(s.dict), len(s.dir), len(s.pairs))
	}
}

func TestSnapshotDetectsCorruption(t *testing.T) {
	data := snapshot(t, buildRules(t, testRules(40)))
	for i := range data {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(data)
			bad[i] ^= flip
			if s, err := ReadSet(bytes.NewReader(bad)); err == nil || s != nil || !errors.Is(err, ErrSnapshot) {
				t.Fatalf("byte %d ^ %#x: ReadSet = %v, %v; want an ErrSnapshot and no set", i, flip, s, err)
			}
		}
	}
}

func TestSnapshotDetectsTruncation(t *testing.T) {
	data := snapshot(t, buildRules(t, testRules(40)))
	for n := range len(data) {
		s, err := ReadSet(bytes.NewReader(data[:n]))
		if err == nil || s != nil || !errors.Is(err, ErrSnapshot) {
			t.Fatalf("prefix of %d/%d bytes: ReadSet = %v, %v", n, len(data), s, err)
		}
		if n >= headerLen && !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("prefix of %d bytes: error %q does not say truncated", n, err)
		}
	}
}

// fixChecksums recomputes both checksums, so that a test reaches the
// checks behind them.
func fixChecksums(b []byte) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], tab))
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], tab))
}

func TestSnapshotRejectsForeignFiles(t *testing.T) {
	data := snapshot(t, buildRules(t, testRules(10)))
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"wrong magic", func(b []byte) []byte { copy(b, "NOTATRIE"); return b }, "bad magic"},
		{"text mode mangled", func(b []byte) []byte { return append(b[:6:6], append([]byte("\n"), b[8:]...)...) }, "bad magic"},
		{"newer version", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); fixChecksums(b); return b }, "version 2"},
		{"unknown flags", func(b []byte) []byte { b[12] = 1; fixChecksums(b); return b }, "flags"},
		{"empty", func([]byte) []byte { return nil }, "truncated"},
		{"text", func([]byte) []byte { return []byte("example.com\nexample.net\n") }, "truncated"},
		{"root out of range", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 1<<30); fixChecksums(b); return b }, "root record"},
		{"huge table", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[28:], 1<<31); fixChecksums(b); return b }, "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadSet(bytes.NewReader(tc.mutate(bytes.Clone(data))))
			if err == nil || s != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadSet = %v, %v; want an error containing %q", s, err, tc.want)
			}
		})
	}
}

// FuzzReadSet corrupts a valid snapshot behind its checksums: the
// structural checks alone must then keep ReadSet and Match from panicking
// or returning a set that misbehaves.
func FuzzReadSet(f *testing.F) {
	rules := testRules(60)
	data := snapshot(f, buildRules(f, rules))
	queries := testQueries(rules)
	f.Add(uint32(100), []byte{0xff})
	f.Add(uint32(60), []byte{0, 0, 0, 0})
	f.Add(uint32(len(data)-40), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		if len(data) <= headerLen+4 {
			return
		}
		bad := bytes.Clone(data)
		// Patch anywhere after the magic and version, before the trailer.
		off := 12 + int(at)%(len(bad)-16)
		copy(bad[off:len(bad)-4], patch)
		fixChecksums(bad)
		s, err := ReadSet(bytes.NewReader(bad))
		if err != nil {
			if s != nil {
				t.Fatal("ReadSet returned a set with an error")
			}
			return
		}
		for _, q := range queries {
			s.Match(q)
			s.Walk(q, func(Match) {})
		}
	})
}

// Reading a snapshot allocates the set and little more: validation walks
// the trie with a stack as deep as the trie, not one entry per waiting
// child (a TLD of a large list has millions). The bound is on bytes
// allocated (deterministic), not time.
func TestReadSetAllocatesTheSet(t *testing.T) {
	b := NewBuilder()
	for i := range 200_000 {
		name := fmt.Sprintf("n%d.example", i)
		if i%3 == 0 {
			name = "sub." + name // a child with children of its own waits for its turn
		}
		if err := b.Add(Rule{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := ReadSet(r)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if limit := uint64(got.SizeBytes())*5/4 + 256<<10; alloc > limit {
		t.Errorf("ReadSet of a %d-byte set allocated %d bytes, more than %d", got.SizeBytes(), alloc, limit)
	}
}
