package recursive

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// lru is a bounded, mutex-guarded LRU map. Expiry is the values' business:
// they carry times read from the injected clock, which the expirable LRU of
// golang-lru cannot use.
type lru[K comparable, V any] struct {
	mu sync.Mutex
	c  *simplelru.LRU[K, V]
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	c, err := simplelru.NewLRU[K, V](max(size, 1), nil)
	if err != nil { // only for size <= 0, excluded above
		panic(err)
	}
	return &lru[K, V]{c: c}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.Get(k)
}

func (l *lru[K, V]) put(k K, v V) {
	l.mu.Lock()
	l.c.Add(k, v)
	l.mu.Unlock()
}

// update replaces k's value by f(old, found) atomically.
func (l *lru[K, V]) update(k K, f func(old V, found bool) V) {
	l.mu.Lock()
	old, ok := l.c.Peek(k)
	l.c.Add(k, f(old, ok))
	l.mu.Unlock()
}

func (l *lru[K, V]) remove(k K) {
	l.mu.Lock()
	l.c.Remove(k)
	l.mu.Unlock()
}

func (l *lru[K, V]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.Len()
}
