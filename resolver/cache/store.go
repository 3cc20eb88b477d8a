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

// chunkSize is the size of the chunks a shard's arena is made of. The
// arena grows a chunk at a time, so storing never copies what is stored
// (one arena grown by copying it whole stalled its shard 2.8 ms of CPU at
// 1M cached answers, on a core the whole server shares); a record larger
// than a chunk gets one of its own.
const chunkSize = 64 << 10

// drainSlots is how many slots each put examines while a shard drains its
// old arena into the current one (see reserve): compaction is spread over the
// puts that follow it, a few records each, rather than done in one go under
// the shard lock.
const drainSlots = 8

// slotPage is how many slots a page of a shard's slot table holds. The
// table grows a page at a time and never copies its slots: doubling one
// slice of 15k slots (1M cached answers) took 0.5-1 ms under the shard lock.
const slotPage = 512

// nilSlot ends the LRU list and the free list.
const nilSlot = -1

// slot is one entry in a shard: its metadata, where its record lies in the
// arena, and its place in the LRU list. It holds no pointers, so neither
// does the slice of them.
type slot struct {
	meta
	hash        uint64
	chunk       uint32 // the record: chunks[chunk][off:off+n], a body then the key
	off, n      uint32
	prev, next  int32 // LRU neighbours (head = most recently used); next links the free list
	hits        uint8 // counted up to prefetchHits only
	prefetching bool  // a prefetch was started for this entry
	side        bool  // its record is in the current arena when equal to shard.side, else in old
}

// shard is one LRU under its own lock, padded so neighbouring locks do not
// share a cache line. Every entry's record — its answer in wire form and its
// key — lives in a byte arena of chunkSize chunks; slots and index are
// pointer-free, so a shard is a few objects for the collector per 64 KiB of
// answers however many entries it holds.
type shard struct {
	mu         sync.Mutex
	index      map[uint64]int32 // key hash → slot
	slots      [][]slot         // pages of slotPage slots; slot i is at(i)
	nslots     int32            // slots in use or on the free list
	chunks     [][]byte         // the current arena: records are appended to the last chunk
	old        [][]byte         // the arena being drained into chunks (see reserve); nil when none
	alloc      int              // bytes allocated in chunks
	side       bool             // the side of slots whose record is in chunks
	cursor     int32            // the next slot the drain examines
	free       int32            // first free slot
	head, tail int32
	count      int // entries
	bytes      int // records plus slotOverhead each
	live       int // record bytes in the arenas; the rest of them is garbage
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
	return &entry{meta: sh.at(i).meta, body: append([]byte(nil), b...)}
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
	sh.drain(drainSlots)
	c := sh.reserve(n)
	i := sh.newSlot()
	sh.gen++
	s2 := sh.at(i)
	*s2 = slot{meta: e.meta, hash: h, chunk: uint32(c), off: uint32(len(sh.chunks[c])), n: uint32(n), side: sh.side}
	s2.gen = sh.gen
	sh.chunks[c] = appendKey(append(sh.chunks[c], e.body...), k)
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
	if i := sh.find(h, k); i != nilSlot && sh.at(i).gen == gen {
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
	if i := sh.find(h, k); i != nilSlot && sh.at(i).gen == gen {
		fn(sh.at(i))
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

// record is slot i's record, in whichever arena holds it: read-only, valid
// while the lock is held.
func (sh *shard) record(i int32) []byte {
	s := sh.at(i)
	arena := sh.chunks
	if s.side != sh.side {
		arena = sh.old
	}
	return arena[s.chunk][s.off : s.off+s.n]
}

// body is slot i's body: read-only, valid while the lock is held.
func (sh *shard) body(i int32) []byte {
	rec := sh.record(i)
	return rec[:bodyLen(rec)]
}

func (sh *shard) keyBytes(i int32) []byte {
	rec := sh.record(i)
	return rec[bodyLen(rec):]
}

// remove deletes slot i.
func (sh *shard) remove(i int32) change {
	s := sh.at(i)
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

// at is slot i.
func (sh *shard) at(i int32) *slot { return &sh.slots[i/slotPage][i%slotPage] }

func (sh *shard) newSlot() int32 {
	if i := sh.free; i != nilSlot {
		sh.free = sh.at(i).next
		return i
	}
	i := sh.nslots
	if int(i/slotPage) == len(sh.slots) {
		sh.slots = append(sh.slots, make([]slot, min(slotPage, sh.maxCount))) // nslots <= maxCount
	}
	sh.nslots++
	return i
}

func (sh *shard) pushFront(i int32) {
	s := sh.at(i)
	s.prev, s.next = nilSlot, sh.head
	if sh.head != nilSlot {
		sh.at(sh.head).prev = i
	} else {
		sh.tail = i
	}
	sh.head = i
}

func (sh *shard) unlink(i int32) {
	s := sh.at(i)
	if s.prev != nilSlot {
		sh.at(s.prev).next = s.next
	} else {
		sh.head = s.next
	}
	if s.next != nilSlot {
		sh.at(s.next).prev = s.prev
	} else {
		sh.tail = s.prev
	}
	s.prev, s.next = nilSlot, nilSlot
}

// reserve returns the chunk of the current arena that n more bytes are
// appended to: the last one while it has room, else a new one. Before a new
// chunk, an arena holding more than half its live bytes again in garbage
// (records removed or replaced since) becomes the old arena and a new one
// starts, into which the puts that follow drain the live records (drain).
// So the current arena stays within about 1.5× of what the entries hold
// (plus a chunk), the old one is dropped within nslots/drainSlots puts,
// and no put copies more than a few records.
func (sh *shard) reserve(n int) int {
	if last := len(sh.chunks) - 1; last >= 0 && len(sh.chunks[last])+n <= cap(sh.chunks[last]) {
		return last
	}
	if sh.old == nil && sh.alloc >= 2*chunkSize && sh.alloc > sh.live+sh.live/2 {
		sh.old, sh.chunks, sh.alloc = sh.chunks, nil, 0
		sh.side = !sh.side // every record is in old now
		sh.cursor = 0
	}
	size := max(min(chunkSize, sh.maxBytes), n) // a small cache's shard needs no 64 KiB
	sh.chunks = append(sh.chunks, make([]byte, 0, size))
	sh.alloc += size
	return len(sh.chunks) - 1
}

// drain moves the records of up to k slots from the old arena to the current
// one, and drops the old arena once every slot has been seen. A slot freed
// or stored since the drain began has nothing in the old arena.
func (sh *shard) drain(k int) {
	if sh.old == nil {
		return
	}
	for ; k > 0 && sh.cursor < sh.nslots; k-- {
		s := sh.at(sh.cursor)
		sh.cursor++
		if s.n == 0 || s.side == sh.side { // free, or stored since
			continue
		}
		rec := sh.old[s.chunk][s.off : s.off+s.n]
		c := sh.reserve(len(rec))
		s.chunk, s.off, s.side = uint32(c), uint32(len(sh.chunks[c])), sh.side
		sh.chunks[c] = append(sh.chunks[c], rec...)
	}
	if sh.cursor >= sh.nslots {
		sh.old = nil
	}
}
