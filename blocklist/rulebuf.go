package blocklist

import (
	"runtime"
	"unsafe"
)

// ruleMem holds the anonymous mappings behind a large Builder's rule
// buffer (Builder.ents) and tail buffer (Builder.tails), outside the Go
// heap as the trie's arrays are (scratch.go), for the same reasons and
// one more: at the end of a parse the buffer was the largest live thing
// in the heap (24 bytes a rule), and a build runs at a low GOGC
// (cmd/bulwark buildGCPercent), which lets garbage grow to a share of
// the live heap before a collection, so the buffer's megabytes in the
// heap let the parse's garbage grow with them, at the refresh's peak.
// Outside the heap they count for nothing there, Finish unmaps them
// outright, and Grow's reservation costs no memory until written.
//
// A Builder may be dropped without Finish (a feed that fails mid-parse,
// a cancelled refresh, a Build whose builder is discarded): a cleanup
// (runtime.AddCleanup) on the Builder unmaps what is left. The cleanup
// holds the ruleMem, never the Builder, so the Builder can be collected.
// Where mapping is not available or fails, the buffers are on the heap.
type ruleMem struct {
	ents, tails []byte // the mappings, nil: that buffer is on the heap
}

// free unmaps both buffers' mappings. Nothing may read the Builder's
// buffers afterwards unless they are on the heap.
func (m *ruleMem) free() {
	if m.ents != nil {
		unmapPages(m.ents)
		m.ents = nil
	}
	if m.tails != nil {
		unmapPages(m.tails)
		m.tails = nil
	}
}

// memory returns b's ruleMem, creating it and its cleanup on first use.
func (b *Builder) memory() *ruleMem {
	if b.mem == nil {
		b.mem = &ruleMem{}
		runtime.AddCleanup(b, (*ruleMem).free, b.mem)
	}
	return b.mem
}

// growEnts gives b.ents room for at least n more entries.
func (b *Builder) growEnts(n int) {
	if cap(b.ents)-len(b.ents) >= n {
		return
	}
	c := len(b.ents) + n
	size := c * int(unsafe.Sizeof(ruleEntry{}))
	if size < scratchMin {
		b.ents = growRoom(b.ents, n)
		return
	}
	m := b.memory()
	if p, ok := remap(&m.ents, len(b.ents)*int(unsafe.Sizeof(ruleEntry{})), size, unsafe.Pointer(unsafe.SliceData(b.ents))); ok {
		b.ents = unsafe.Slice((*ruleEntry)(p), c)[:len(b.ents)]
		return
	}
	b.ents = growRoom(b.ents, n)
	unmapMoved(&m.ents)
}

// growTails gives b.tails room for at least n more bytes.
func (b *Builder) growTails(n int) {
	if cap(b.tails)-len(b.tails) >= n {
		return
	}
	c := len(b.tails) + n
	if c < scratchMin {
		b.tails = growRoom(b.tails, n)
		return
	}
	m := b.memory()
	if p, ok := remap(&m.tails, len(b.tails), c, unsafe.Pointer(unsafe.SliceData(b.tails))); ok {
		b.tails = unsafe.Slice((*byte)(p), c)[:len(b.tails)]
		return
	}
	b.tails = growRoom(b.tails, n)
	unmapMoved(&m.tails)
}

// unmapMoved unmaps *cur, a buffer's mapping the buffer has just moved
// out of to the heap (mapping a bigger one failed).
func unmapMoved(cur *[]byte) {
	if *cur != nil {
		unmapPages(*cur)
		*cur = nil
	}
}

// remap moves a buffer of used bytes at old into a fresh mapping of size
// bytes, unmapping *cur (the buffer's mapping, if it is in one), and
// records the new one in *cur. Buffers under scratchMin stay on the heap
// (growEnts, growTails) and move into a mapping as they outgrow it. It
// fails, leaving everything as it was, where mapping fails: the buffer
// then moves to the heap.
func remap(cur *[]byte, used, size int, old unsafe.Pointer) (unsafe.Pointer, bool) {
	nb, err := mapPages(size)
	if err != nil {
		return nil, false
	}
	if used > 0 {
		copy(nb, unsafe.Slice((*byte)(old), used))
	}
	if *cur != nil {
		unmapPages(*cur)
	}
	*cur = nb
	return unsafe.Pointer(unsafe.SliceData(nb)), true
}

// freeBuffers drops b's buffers, unmapping what is mapped.
func (b *Builder) freeBuffers() {
	b.ents, b.tails = nil, nil
	if b.mem != nil {
		b.mem.free()
	}
}
