package cache

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
)

// rawBody is a body of a wire form of n octets that names key i and round r,
// with no records and no EDE: enough for the store, which only moves it.
func rawBody(i, r, n int) []byte {
	b := make([]byte, bodyHeader+n)
	binary.BigEndian.PutUint16(b, uint16(n))
	for j := range n {
		b[bodyHeader+j] = byte(i*7 + r*13 + j)
	}
	return b
}

// The arena is chunks, appended to and drained a few slots per put: every
// entry must read back as stored across growth, replacement, eviction and
// drains, the arenas must stay within a small multiple of the live bytes, and
// a drain must end (the old arena dropped) once its puts have passed.
func TestStoreArenaChunks(t *testing.T) {
	tests := []struct {
		name   string
		size   int                // entries the (single-shard) store holds
		keys   int                // distinct keys put each round
		rounds int                // every key is put again each round, with a new body
		body   func(i, r int) int // wire octets of key i in round r
	}{
		{"fill", 500, 500, 1, func(i, _ int) int { return 100 + i%300 }},
		{"replace, same sizes", 500, 500, 20, func(i, _ int) int { return 200 }},
		{"replace, sizes change", 500, 500, 20, func(i, r int) int { return 50 + (i*r)%900 }},
		{"evict while draining", 300, 500, 10, func(i, r int) int { return 100 + (i+r)%400 }},
		{"records larger than a chunk", 40, 60, 6, func(i, r int) int { return 1000 + (i*r)%(70<<10-1000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(tt.size, 1<<30, maxEntryLimit)
			if len(s.shards) != 1 {
				t.Fatalf("%d shards, want 1", len(s.shards))
			}
			sh := &s.shards[0]
			k := func(i int) key { return key{name: "n" + strconv.Itoa(i) + ".example.", qtype: 1, qclass: 1} }
			drains := 0
			for r := range tt.rounds {
				for i := range tt.keys {
					old := sh.old != nil
					s.put(k(i), &entry{body: rawBody(i, r, tt.body(i, r))})
					if !old && sh.old != nil {
						drains++
					}
				}
				// The last tt.size keys put are held, each with this round's body.
				held := 0
				for i := range tt.keys {
					e := s.get(k(i))
					if e == nil {
						continue
					}
					held++
					if want := rawBody(i, r, tt.body(i, r)); !bytes.Equal(e.body, want) {
						t.Fatalf("round %d: key %d reads %d bytes, not the %d stored", r, i, len(e.body), len(want))
					}
				}
				if want := min(tt.size, tt.keys); held != want {
					t.Fatalf("round %d: %d entries held, want %d", r, held, want)
				}
			}
			if tt.rounds > 1 && drains == 0 {
				t.Error("no drain started: replaced records were never compacted")
			}
			// A drain ends within nslots/drainSlots puts.
			for i := 0; sh.old != nil; i++ {
				if i > int(sh.nslots)/drainSlots+1 {
					t.Fatalf("the drain still runs after %d puts (%d slots)", i, int(sh.nslots))
				}
				s.put(k(i%tt.keys), &entry{body: rawBody(i%tt.keys, tt.rounds, tt.body(i%tt.keys, tt.rounds))})
			}
			if limit := sh.live + sh.live/2 + 2*max(chunkSize, maxEntryLimit); sh.alloc > limit {
				t.Errorf("arena of %d bytes for %d live bytes (limit %d)", sh.alloc, sh.live, limit)
			}
		})
	}
}
