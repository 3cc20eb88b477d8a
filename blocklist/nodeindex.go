package blocklist

import "math/rand/v2"

// nodeIndex finds a builder node by its parent and label. It is an
// open-addressing table of node ids (4 bytes a slot, at most 3/4 full)
// whose keys live in the tree's own arrays: a Go map keyed by (parent,
// packed label) took about 70 bytes a node, most of the memory of a
// build (a million names are 1.5 million nodes). The hash is seeded per
// builder, so a feed cannot choose labels that collide. Up to 3/4 full
// rather than half: a linear probe's run stays within a cache line or
// two (16 slots a line), so the extra probes cost little next to the one
// miss, and the table is a third of the builder's memory.
type nodeIndex struct {
	slots []uint32 // node ids; 0 (the root, never looked up) is empty
	used  int
	seed  uint64
}

func newNodeIndex() nodeIndex {
	return nodeIndex{slots: make([]uint32, 16), seed: rand.Uint64()}
}

func (x *nodeIndex) hash(parent uint32, n int, w *packedLabel) uint64 {
	h := (w[0] ^ x.seed ^ uint64(n)<<56 ^ uint64(parent)<<24) * 0x9e3779b97f4a7c15
	for i := 1; i < (6*n+63)>>6; i++ {
		h = (h ^ w[i]) * 0xbf58476d1ce4e5b9
	}
	return h ^ h>>29
}

// find returns the child of parent labelled w (n characters), if any, and
// the slot where it is or would go.
func (t *tree) find(parent uint32, n int, w *packedLabel) (id uint32, slot int, ok bool) {
	x := &t.idx
	if len(x.slots) == 0 { // dropped by compile: the builder is used again
		t.reserve(len(t.parent))
	}
	mask := len(x.slots) - 1
	for i := int(x.hash(parent, n, w)) & mask; ; i = (i + 1) & mask {
		id := x.slots[i]
		if id == 0 {
			return 0, i, false
		}
		if t.parent[id] == parent && int(t.n[id]) == n && eqPacked(t.packed, t.labelOff(id), n, w) {
			return id, i, true
		}
	}
}

// insert records node id (already in the tree's arrays) at slot, from find.
func (t *tree) insert(id uint32, slot int) {
	x := &t.idx
	x.slots[slot] = id
	x.used++
	if 4*x.used > 3*len(x.slots) {
		t.reindex(2 * len(x.slots))
	}
}

// reindex rebuilds the table with size slots (a power of two).
func (t *tree) reindex(size int) {
	x := &t.idx
	x.slots = make([]uint32, size)
	x.used = len(t.parent) - 1
	mask := size - 1
	off := 0 // the labels are in id order; the root's is empty
	for id := 1; id < len(t.parent); id++ {
		var w packedLabel
		n := int(t.n[id])
		loadPacked(t.packed, off, n, &w)
		off += packedBytes(n)
		i := int(x.hash(t.parent[id], n, &w)) & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = uint32(id)
	}
}

// reserve makes room for about n nodes in all without a rebuild.
func (t *tree) reserve(n int) {
	size := max(len(t.idx.slots), 16)
	for 3*size < 4*n+4 {
		size *= 2
	}
	if size > len(t.idx.slots) {
		t.reindex(size)
	}
}

// dropIndex frees the node index, which compile does not use: it is a
// sixth of a large build's memory (4 bytes a slot, two to four slots a
// node), and compile's own tables peak on top of it. find rebuilds it if
// the builder is used again.
func (t *tree) dropIndex() {
	t.idx.slots = nil
}

// loadPacked reads the stored label of n characters at b[off:] into w.
func loadPacked(b []byte, off, n int, w *packedLabel) {
	*w = packedLabel{}
	bits := 6 * n
	for i := 0; bits > 0; i++ {
		v := uint64(0)
		for k := 0; k < 8 && off+8*i+k < len(b); k++ {
			v |= uint64(b[off+8*i+k]) << (8 * k)
		}
		if bits < 64 {
			v &= 1<<uint(bits) - 1
		}
		w[i] = v
		bits -= 64
	}
}
