package blocklist

import (
	"runtime"
	"unsafe"
)

// A large Builder's rule buffer (Builder.ents) and tail buffer
// (Builder.tails) live in anonymous mappings of a scratch of the
// Builder's own (Builder.mem), outside the Go heap as the trie's arrays
// are (scratch.go), for the same reasons and one more: at the end of a
// parse the buffer was the largest live thing in the heap (24 bytes a
// rule), and a build runs at a low GOGC (cmd/bulwark buildGCPercent),
// which lets garbage grow to a share of the live heap before a
// collection, so the buffer's megabytes in the heap let the parse's
// garbage grow with them, at the refresh's peak. Outside the heap they
// count for nothing there, Finish unmaps them outright, and Grow's
// reservation costs no memory until written.
//
// A Builder may be dropped without Finish (a feed that fails mid-parse,
// a cancelled refresh, a Build whose builder is discarded): a cleanup
// (runtime.AddCleanup) on the Builder unmaps what is left. The cleanup
// holds the scratch, never the Builder, so the Builder can be collected.
// Buffers under scratchMin, and every one where mapping is not available
// or fails, are on the heap.

// memory returns b's scratch, creating it and its cleanup on first use.
func (b *Builder) memory() *scratch {
	if b.mem == nil {
		b.mem = newScratch()
		runtime.AddCleanup(b, (*scratch).release, b.mem)
	}
	return b.mem
}

// growEnts gives b.ents room for at least n more entries.
func (b *Builder) growEnts(n int) { b.ents = growMapped(b.memory(), b.ents, n) }

// growTails gives b.tails room for at least n more bytes.
func (b *Builder) growTails(n int) { b.tails = growMapped(b.memory(), b.tails, n) }

// growMapped returns s with room for n more elements, moved to a fresh
// array of sc's (a mapping once it is large enough) if it has not, and
// the old one unmapped if it was mapped. The new room is untouched.
func growMapped[E any](sc *scratch, s []E, n int) []E {
	if cap(s)-len(s) >= n {
		return s
	}
	if (len(s)+n)*int(unsafe.Sizeof(*new(E))) < scratchMin {
		return growRoom(s, n)
	}
	g := scratchMake[E](sc, len(s), len(s)+n)
	copy(g, s)
	scratchFree(sc, s)
	return g
}

// freeBuffers drops b's buffers, unmapping what is mapped.
func (b *Builder) freeBuffers() {
	b.ents, b.tails = nil, nil
	b.mem.release()
}
