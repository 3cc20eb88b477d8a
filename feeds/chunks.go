package feeds

// chunks collects a list's values while it is parsed in fixed-size blocks
// rather than one slice grown by doubling: a doubling slice allocates
// several times its final size over its life and holds up to twice it at
// the end, plus the exact copy made to keep it. With chunks, parsing a
// list costs about twice its result (the blocks, then the exact copy),
// whatever the list's size.
type chunks[T any] struct {
	full []([]T) // blocks of chunkLen values each
	cur  []T     // the block being filled (capacity chunkLen)
	n    int
}

// chunkBytes is the size of one block, in bytes of T: large enough that
// the block headers are noise, small enough that the last, partly filled
// one is.
const chunkBytes = 1 << 20

func (c *chunks[T]) grow(size int) {
	if len(c.cur) == cap(c.cur) {
		if c.cur != nil {
			c.full = append(c.full, c.cur)
		}
		c.cur = make([]T, 0, max(chunkBytes/size, 1))
	}
}

// add appends v; size is the size of T in bytes.
func (c *chunks[T]) add(v T, size int) {
	c.grow(size)
	c.cur = append(c.cur, v)
	c.n++
}

// addString appends s to a byte store, splitting it across blocks.
func addString(c *chunks[byte], s string) {
	for len(s) > 0 {
		c.grow(1)
		k := min(len(s), cap(c.cur)-len(c.cur))
		c.cur = append(c.cur, s[:k]...)
		s = s[k:]
		c.n += k
	}
}

func (c *chunks[T]) len() int { return c.n }

// each calls f with the blocks in order, then drops them.
func (c *chunks[T]) each(f func([]T)) {
	for _, b := range c.full {
		f(b)
	}
	if len(c.cur) > 0 {
		f(c.cur)
	}
	*c = chunks[T]{}
}

// collect returns the values in one slice of exactly their number.
func (c *chunks[T]) collect() []T {
	if c.n == 0 {
		*c = chunks[T]{}
		return nil
	}
	out := make([]T, 0, c.n)
	c.each(func(b []T) { out = append(out, b...) })
	return out
}
