package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Sharding: enough shards that two cores rarely meet on one lock, but each
// big enough that LRU order within a shard approximates global LRU order.
const (
	maxShards     = 64
	minShardElems = 256
)

// shard is one LRU under its own lock, padded so neighbouring locks do not
// share a cache line.
type shard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[key, *entry]
	_   [64 - 16]byte
}

// store is the sharded LRU behind Cache. A lookup takes one shard lock for a
// map lookup and a list move; entries are read after the lock is released.
type store struct {
	shards []shard
	bits   uint
	seed   maphash.Seed
	count  atomic.Int64
}

// newStore splits size entries over a power-of-two number of shards; small
// caches get a single shard so that eviction happens exactly at size.
func newStore(size int) *store {
	n := 1
	for n < maxShards && size/(2*n) >= minShardElems {
		n *= 2
	}
	s := &store{shards: make([]shard, n), seed: maphash.MakeSeed()}
	for n>>s.bits > 1 {
		s.bits++
	}
	for i := range s.shards {
		sz := size / n
		if i < size%n {
			sz++
		}
		s.shards[i].lru, _ = simplelru.NewLRU[key, *entry](max(sz, 1), nil)
	}
	return s
}

func (s *store) shardFor(k key) *shard {
	if s.bits == 0 {
		return &s.shards[0]
	}
	h := maphash.String(s.seed, k.name) ^ uint64(k.qtype)<<8 ^ uint64(k.flags)
	h *= 0x9e3779b97f4a7c15 // spread the mixed-in low bits into the top ones
	return &s.shards[h>>(64-s.bits)]
}

// get returns the entry under k (fresh or expired), marking it recently used.
func (s *store) get(k key) *entry {
	sh := s.shardFor(k)
	sh.mu.Lock()
	e, _ := sh.lru.Get(k)
	sh.mu.Unlock()
	return e
}

// put stores e under k, replacing any entry there; it reports whether the
// count of entries grew and whether the least recently used one was evicted.
func (s *store) put(k key, e *entry) (added, evicted bool) {
	sh := s.shardFor(k)
	sh.mu.Lock()
	if sh.lru.Contains(k) {
		sh.lru.Add(k, e)
	} else if evicted = sh.lru.Add(k, e); !evicted {
		added = true
	}
	sh.mu.Unlock()
	if added {
		s.count.Add(1)
	}
	return added, evicted
}

// remove deletes the entry under k if it is still e (a refresh may have
// replaced it meanwhile); it reports whether it did.
func (s *store) remove(k key, e *entry) bool {
	sh := s.shardFor(k)
	sh.mu.Lock()
	cur, ok := sh.lru.Peek(k)
	ok = ok && cur == e
	if ok {
		sh.lru.Remove(k)
	}
	sh.mu.Unlock()
	if ok {
		s.count.Add(-1)
	}
	return ok
}

// len is the number of entries, fresh or kept for serve-stale.
func (s *store) len() int { return int(s.count.Load()) }
