package blocklist

import "unsafe"

// scratch holds a build's large pointer-free working arrays (the trie's,
// the compile's) outside the Go heap, in anonymous mappings of their own,
// each unmapped as soon as its last reader is done and all of them when
// the build ends. Two things make the heap a poor place for them. A large
// allocation from pages the heap has used before is cleared by the
// runtime at once, so a refresh's build (an old set and the last build's
// freed pages around) had its whole reservation resident from the start,
// while a fresh mapping's untouched pages are never resident; and memory
// the heap frees stays resident until a collection and the scavenger (or
// debug.FreeOSMemory) hand it back, where munmap does so at once. The
// mapped memory is not in the Go heap, so GOMEMLIMIT does not see it: it
// lives only while a build runs. Arrays of less than scratchMin bytes,
// and every array where mapping is not available or fails, come from the
// heap as usual. A slice that outgrows its mapping (append) moves to the
// heap; its mapping is unmapped when the build ends. The zero scratch
// (nil maps) always uses the heap, for trees that outlive a build
// (WithOverlay).
type scratch struct {
	maps map[unsafe.Pointer][]byte // by base address
}

// scratchMin is the size below which an array is not worth a mapping.
const scratchMin = 1 << 20

func newScratch() *scratch { return &scratch{maps: map[unsafe.Pointer][]byte{}} }

// scratchMake returns a slice of length n and capacity c, zeroed, in its
// own mapping if sc maps.
func scratchMake[E any](sc *scratch, n, c int) []E {
	size := c * int(unsafe.Sizeof(*new(E)))
	if sc == nil || sc.maps == nil || size < scratchMin {
		return make([]E, n, c)
	}
	b, err := mapPages(size)
	if err != nil {
		return make([]E, n, c)
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	sc.maps[p] = b
	return unsafe.Slice((*E)(p), c)[:n]
}

// scratchFree unmaps s's mapping, if s is at the start of one of sc's:
// nothing may read s afterwards. A heap slice is left to the collector.
func scratchFree[E any](sc *scratch, s []E) {
	if sc == nil || cap(s) == 0 {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(s))
	if b, ok := sc.maps[p]; ok {
		delete(sc.maps, p)
		unmapPages(b)
	}
}

// scratchOwns reports whether s is at the start of one of sc's mappings.
func scratchOwns[E any](sc *scratch, s []E) bool {
	if sc == nil || cap(s) == 0 {
		return false
	}
	_, ok := sc.maps[unsafe.Pointer(unsafe.SliceData(s))]
	return ok
}

// release unmaps every mapping left: the build is over.
func (sc *scratch) release() {
	if sc == nil {
		return
	}
	for p, b := range sc.maps {
		delete(sc.maps, p)
		unmapPages(b)
	}
}
