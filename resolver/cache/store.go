package cache

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Sharding: enough shards that two cores rarely meet on one lock, but each
// big enough that LRU order within a shard approximates global LRU order.
const (
	maxShards     = 64
	minShardElems = 256
	// minShardEntries keeps each shard's byte budget at several of the
	// largest entries, so that the per-entry cap, not the split, decides
	// what is cacheable.
	minShardEntries = 4
)

// slotOverhead is what the store spends per entry besides the record: its
// slot and its index entry. It is counted against max_bytes with the record.
const slotOverhead = 96

// minArena is the smallest arena a shard allocates.
const minArena = 4 << 10

// nilSlot ends the LRU list and the free list.
const nilSlot = -1

// slot is one entry in a shard: its metadata, where its record lies in the
// arena, and its place in the LRU list. It holds no pointers, so neither
// does the slice of them.
type slot struct {
	meta
	hash        uint64
	off, n      uint32 // the record: arena[off:off+n], a body then the key
	prev, next  int32  // LRU neighbours (head = most recently used); next links the free list
	hits        uint8  // counted up to prefetchHits only
	prefetching bool   // a prefetch was started for this entry
}

// shard is one LRU under its own lock, padded so neighbouring locks do not
// share a cache line. Every entry's record — its answer in wire form and its
// key — lives in one byte arena; slots and index are pointer-free too, so a
// shard is a handful of objects for the collector however many entries it
// holds.
type shard struct {
	mu         sync.Mutex
	index      map[uint64]int32 // key hash → slot
	slots      []slot
	arena      []byte
	free       int32 // first free slot
	head, tail int32
	count      int // entries
	bytes      int // records plus slotOverhead each
	live       int // record bytes in the arena; the rest of it is garbage
	gen        uint64
	maxCount   int
	maxBytes   int
	_          [64]byte
}

// store is the sharded LRU behind Cache, bounded in entries and in bytes. A
// lookup takes one shard lock for a map lookup and a list move; the caller
// reads what it needs from the record and releases the lock.
type store struct {
	shards []shard
	bits   uint
	seed   maphash.Seed
	count  atomic.Int64
	bytes  atomic.Int64
}

// newStore splits size entries and maxBytes bytes over a power-of-two number
// of shards; small caches get a single shard so that eviction happens
// exactly at size. maxEntry is the largest record put will be given.
func newStore(size, maxBytes, maxEntry int) *store {
	n := 1
	for n < maxShards && size/(2*n) >= minShardElems && maxBytes/(2*n) >= minShardEntries*(maxEntry+slotOverhead) {
		n *= 2
	}
	s := &store{shards: make([]shard, n), seed: maphash.MakeSeed()}
	for n>>s.bits > 1 {
		s.bits++
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.maxCount = max(size/n+b2i(i < size%n), 1)
		sh.maxBytes = maxBytes/n + b2i(i < maxBytes%n)
		sh.index = make(map[uint64]int32)
		sh.free, sh.head, sh.tail = nilSlot, nilSlot, nilSlot
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hash mixes every field of k; equal keys hash alike, and a collision of
// unequal ones costs a miss, never a wrong answer (records carry their key).
func (s *store) hash(k key) uint64 {
	h := maphash.String(s.seed, k.name)
	h ^= uint64(k.qtype) | uint64(k.qclass)<<16 | uint64(k.flags)<<32
	if k.subnet.IsValid() {
		a := k.subnet.Addr().As16()
		h ^= binary.LittleEndian.Uint64(a[:8])*0xff51afd7ed558ccd ^ binary.LittleEndian.Uint64(a[8:])*0xc4ceb9fe1a85ec53
		h ^= uint64(k.subnet.Bits()+1) << 40
	}
	return h * 0x9e3779b97f4a7c15 // spread the mixed-in low bits into the top ones
}

func (s *store) shardFor(h uint64) *shard {
	if s.bits == 0 {
		return &s.shards[0]
	}
	return &s.shards[h>>(64-s.bits)]
}

// lookup locks k's shard and returns it with the slot of k, or nilSlot,
// marking the entry (fresh or expired) recently used. The caller unlocks.
func (s *store) lookup(k key) (*shard, int32) {
	h := s.hash(k)
	sh := s.shardFor(h)
	sh.mu.Lock()
	i := sh.find(h, k)
	if i != nilSlot {
		sh.unlink(i)
		sh.pushFront(i)
	}
	return sh, i
}

// get returns a copy of the entry under k (fresh or expired), or nil.
func (s *store) get(k key) *entry {
	sh, i := s.lookup(k)
	defer sh.mu.Unlock()
	if i == nilSlot {
		return nil
	}
	b := sh.body(i)
	return &entry{meta: sh.slots[i].meta, body: append([]byte(nil), b...)}
}

// change is what a store operation did to the totals, for the metrics.
type change struct {
	entries, bytes, evicted int
}

// put stores e under k, replacing any entry there and evicting least
// recently used ones until both bounds hold. An entry too large for its
// shard is not stored.
func (s *store) put(k key, e *entry) change {
	h := s.hash(k)
	sh := s.shardFor(h)
	n := len(e.body) + keyLen(k)
	var ch change
	sh.mu.Lock()
	defer func() {
		sh.mu.Unlock()
		s.count.Add(int64(ch.entries))
		s.bytes.Add(int64(ch.bytes))
	}()
	if n+slotOverhead > sh.maxBytes {
		return ch
	}
	if i, ok := sh.index[h]; ok {
		ch.add(sh.remove(i))
	}
	for sh.count > 0 && (sh.count >= sh.maxCount || sh.bytes+n+slotOverhead > sh.maxBytes) {
		ch.add(sh.remove(sh.tail))
		ch.evicted++
	}
	sh.reserve(n)
	i := sh.newSlot()
	sh.gen++
	s2 := &sh.slots[i]
	*s2 = slot{meta: e.meta, hash: h, off: uint32(len(sh.arena)), n: uint32(n)}
	s2.gen = sh.gen
	sh.arena = append(sh.arena, e.body...)
	sh.arena = appendKey(sh.arena, k)
	sh.pushFront(i)
	sh.index[h] = i
	sh.count++
	sh.bytes += n + slotOverhead
	sh.live += n
	ch.entries++
	ch.bytes += n + slotOverhead
	return ch
}

func (c *change) add(d change) {
	c.entries += d.entries
	c.bytes += d.bytes
}

// remove deletes the entry under k if it is still the one of generation
// gen (a refresh may have replaced it meanwhile).
func (s *store) remove(k key, gen uint64) change {
	h := s.hash(k)
	sh := s.shardFor(h)
	sh.mu.Lock()
	var ch change
	if i := sh.find(h, k); i != nilSlot && sh.slots[i].gen == gen {
		ch = sh.remove(i)
	}
	sh.mu.Unlock()
	s.count.Add(int64(ch.entries))
	s.bytes.Add(int64(ch.bytes))
	return ch
}

// update calls fn on the slot of k's entry of generation gen, if it is
// still there, under the shard lock.
func (s *store) update(k key, gen uint64, fn func(*slot)) {
	h := s.hash(k)
	sh := s.shardFor(h)
	sh.mu.Lock()
	if i := sh.find(h, k); i != nilSlot && sh.slots[i].gen == gen {
		fn(&sh.slots[i])
	}
	sh.mu.Unlock()
}

// len is the number of entries, fresh or kept for serve-stale.
func (s *store) len() int { return int(s.count.Load()) }

// size is what the entries take, as counted against max_bytes.
func (s *store) size() int { return int(s.bytes.Load()) }

// find returns the slot holding k, or nilSlot.
func (sh *shard) find(h uint64, k key) int32 {
	i, ok := sh.index[h]
	if !ok || !keyEqual(sh.keyBytes(i), k) {
		return nilSlot
	}
	return i
}

// body is slot i's body in the arena: read-only, valid while the lock is held.
func (sh *shard) body(i int32) []byte {
	s := &sh.slots[i]
	rec := sh.arena[s.off : s.off+s.n]
	return rec[:bodyLen(rec)]
}

func (sh *shard) keyBytes(i int32) []byte {
	s := &sh.slots[i]
	rec := sh.arena[s.off : s.off+s.n]
	return rec[bodyLen(rec):]
}

// remove deletes slot i.
func (sh *shard) remove(i int32) change {
	s := &sh.slots[i]
	if j, ok := sh.index[s.hash]; ok && j == i {
		delete(sh.index, s.hash)
	}
	sh.unlink(i)
	n := int(s.n)
	sh.count--
	sh.bytes -= n + slotOverhead
	sh.live -= n
	*s = slot{next: sh.free}
	sh.free = i
	return change{entries: -1, bytes: -(n + slotOverhead)}
}

func (sh *shard) newSlot() int32 {
	if i := sh.free; i != nilSlot {
		sh.free = sh.slots[i].next
		return i
	}
	sh.slots = append(sh.slots, slot{})
	return int32(len(sh.slots) - 1)
}

func (sh *shard) pushFront(i int32) {
	s := &sh.slots[i]
	s.prev, s.next = nilSlot, sh.head
	if sh.head != nilSlot {
		sh.slots[sh.head].prev = i
	} else {
		sh.tail = i
	}
	sh.head = i
}

func (sh *shard) unlink(i int32) {
	s := &sh.slots[i]
	if s.prev != nilSlot {
		sh.slots[s.prev].next = s.next
	} else {
		sh.head = s.next
	}
	if s.next != nilSlot {
		sh.slots[s.next].prev = s.prev
	} else {
		sh.tail = s.prev
	}
	s.prev, s.next = nilSlot, nilSlot
}

// reserve makes room for n more bytes at the end of the arena. When the
// arena is full it is replaced by one half again as large as the live
// records plus n, and only the live records are copied over: growth and
// compaction are one step, and the arena stays within 1.5× of what the
// entries hold (plus the garbage of records removed since), however
// entries come and go. The copy is amortised over the bytes stored since
// the last one.
func (sh *shard) reserve(n int) {
	if len(sh.arena)+n <= cap(sh.arena) {
		return
	}
	need := sh.live + n
	arena := make([]byte, 0, max(need+need/2, minArena))
	for i := sh.head; i != nilSlot; i = sh.slots[i].next {
		s := &sh.slots[i]
		off := len(arena)
		arena = append(arena, sh.arena[s.off:s.off+s.n]...)
		s.off = uint32(off)
	}
	sh.arena = arena
}
