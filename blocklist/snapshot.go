package blocklist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
)

// Snapshot format (little endian), version 1:
//
//	magic "BWTRIE\r\n" | version u32 | flags u32 (0) | seed u64 | root u32 |
//	len(nodes) u32 | len(dir) u32 | len(dict) u32 | len(rules) u32 | len(pairs) u32 |
//	header CRC-32C u32
//	nodes bytes | dir u32... | dict: (len u8, label bytes)... |
//	rules: (allow u8, scope u8, action u8, 0 u8, list u16, category u16, data u32)... |
//	pairs: (self u32, below u32)... |
//	CRC-32C u32 of everything before it
//
// The header has its own checksum so that a corrupt length is caught
// before it is used to size an allocation.
const (
	snapMagic   = "BWTRIE\r\n"
	snapVersion = 1
	headerLen   = 52
	ruleLen     = 12
	pairLen     = 8
)

// ErrSnapshot marks a snapshot ReadSet cannot use: corrupt, truncated, or
// written by an incompatible version. The caller should rebuild the set
// from its lists.
var ErrSnapshot = errors.New("unusable blocklist snapshot")

// crcTable returns the CRC-32C table (hardware-accelerated on amd64/arm64).
func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// WriteTo writes the set as a binary snapshot that ReadSet loads without
// re-parsing the lists. It returns the bytes written.
func (s *Set) WriteTo(w io.Writer) (int64, error) {
	if s == nil {
		return 0, errors.New("write blocklist snapshot: nil set")
	}
	cw := &crcWriter{w: bufio.NewWriterSize(w, 64<<10)}
	var h [headerLen]byte
	copy(h[:], snapMagic)
	le := binary.LittleEndian
	le.PutUint32(h[8:], snapVersion)
	le.PutUint64(h[16:], s.seed)
	le.PutUint32(h[24:], s.root)
	le.PutUint32(h[28:], uint32(len(s.nodes)-padBytes))
	le.PutUint32(h[32:], uint32(len(s.dir)))
	le.PutUint32(h[36:], uint32(len(s.dict)))
	le.PutUint32(h[40:], uint32(len(s.rules)))
	le.PutUint32(h[44:], uint32(len(s.pairs)))
	le.PutUint32(h[48:], crc32.Checksum(h[:48], crcTable()))
	cw.write(h[:])
	cw.write(s.nodes[:len(s.nodes)-padBytes])

	var buf []byte
	flush := func() {
		cw.write(buf)
		buf = buf[:0]
	}
	for _, d := range s.dir {
		buf = le.AppendUint32(buf, d)
		if len(buf) >= 32<<10 {
			flush()
		}
	}
	for _, d := range s.dict {
		buf = append(buf, byte(d.n))
		buf = append(buf, unpackLabel(&d.w, d.n)...)
	}
	for _, r := range s.rules {
		buf = append(buf, b2u(r.allow), byte(r.scope), byte(r.payload.Action), 0)
		buf = le.AppendUint16(buf, r.payload.List)
		buf = le.AppendUint16(buf, r.payload.Category)
		buf = le.AppendUint32(buf, r.payload.Data)
		if len(buf) >= 32<<10 {
			flush()
		}
	}
	for _, p := range s.pairs {
		buf = le.AppendUint32(buf, p.self)
		buf = le.AppendUint32(buf, p.below)
	}
	flush()
	buf = le.AppendUint32(buf, cw.sum)
	cw.write(buf)
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	if cw.err != nil {
		return cw.n, fmt.Errorf("write blocklist snapshot: %w", cw.err)
	}
	return cw.n, nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// unpackLabel is packLabel's inverse, for the snapshot's dictionary.
func unpackLabel(w *packedLabel, n int) []byte { return appendUnpacked(make([]byte, 0, n), w, n) }

// appendUnpacked appends the label of n characters packed in w.
func appendUnpacked(dst []byte, w *packedLabel, n int) []byte {
	at := len(dst)
	dst = append(dst, make([]byte, n)...)
	out := dst[at:]
	for j := 0; j < n; j++ {
		bit := 6 * j
		c := w[bit>>6] >> (bit & 63)
		if bit&63 > 58 {
			c |= w[bit>>6+1] << (64 - bit&63)
		}
		out[n-1-j] = codeChars[c&63]
	}
	return dst
}

type crcWriter struct {
	w   *bufio.Writer
	sum uint32
	n   int64
	err error
}

func (c *crcWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	c.sum = crc32.Update(c.sum, crcTable(), p)
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

// ReadSet loads a snapshot written by WriteTo. It checks the magic,
// version, checksums and every record's structure before returning, so it
// returns either a Set that is safe to match against or an error wrapping
// ErrSnapshot; never a partly loaded set.
func ReadSet(r io.Reader) (*Set, error) {
	s, err := readSet(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return s, nil
}

type crcReader struct {
	r   io.Reader
	sum uint32
	// avail is how many bytes the source holds from the start, if known
	// (-1 if not): with it, sections are allocated at their full size at
	// once, since a length beyond it is known to be truncated.
	avail int64
	done  int64
}

func (c *crcReader) read(p []byte, what string) error {
	if _, err := io.ReadFull(c.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("truncated in the %s", what)
		}
		return fmt.Errorf("reading the %s: %w", what, err)
	}
	c.sum = crc32.Update(c.sum, crcTable(), p)
	c.done += int64(len(p))
	return nil
}

// fits reports whether n more bytes are known to be there.
func (c *crcReader) fits(n int64) bool { return c.avail >= 0 && c.done+n <= c.avail }

func readSet(r io.Reader) (*Set, error) {
	cr := &crcReader{r: bufio.NewReaderSize(r, 64<<10), avail: -1}
	if sized, ok := r.(interface{ Len() int }); ok { // bytes.Reader and the like
		cr.avail = int64(sized.Len())
	} else if f, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if sk, ok := r.(io.Seeker); ok {
				if at, err := sk.Seek(0, io.SeekCurrent); err == nil {
					cr.avail = st.Size() - at
				}
			}
		}
	}
	le := binary.LittleEndian
	var h [headerLen]byte
	if err := cr.read(h[:], "header"); err != nil {
		return nil, err
	}
	if string(h[:8]) != snapMagic {
		return nil, errors.New("not a blocklist snapshot (bad magic)")
	}
	if v := le.Uint32(h[8:]); v != snapVersion {
		return nil, fmt.Errorf("snapshot version %d, this build reads version %d", v, snapVersion)
	}
	if got, want := crc32.Checksum(h[:48], crcTable()), le.Uint32(h[48:]); got != want {
		return nil, fmt.Errorf("header checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	if f := le.Uint32(h[12:]); f != 0 {
		return nil, fmt.Errorf("unknown flags %#x", f)
	}
	nNodes, nDir := int64(le.Uint32(h[28:])), int64(le.Uint32(h[32:]))
	nDict, nRules, nPairs := int64(le.Uint32(h[36:])), int64(le.Uint32(h[40:])), int64(le.Uint32(h[44:]))
	switch {
	case nNodes < 2 || nNodes > 1<<32-1-padBytes:
		return nil, fmt.Errorf("bad node area length %d", nNodes)
	case nDir > nNodes+1, nDict > maxDict, nPairs < 1 || nPairs > nNodes+1, nRules < 1 || nRules > 2*nPairs+1:
		return nil, fmt.Errorf("implausible table sizes (dir %d, dict %d, rules %d, pairs %d) for %d node bytes",
			nDir, nDict, nRules, nPairs, nNodes)
	}

	s := &Set{seed: le.Uint64(h[16:]), root: le.Uint32(h[24:])}
	var err error
	if s.nodes, err = readBytes(cr, nNodes, padBytes, "node records"); err != nil {
		return nil, err
	}
	if s.dir, err = readU32s(cr, nDir, "bucket directory"); err != nil {
		return nil, err
	}
	s.dict = make([]dictLabel, nDict)
	for i := range s.dict {
		var lb [1 + MaxLabelLen]byte
		if err := cr.read(lb[:1], "dictionary"); err != nil {
			return nil, err
		}
		n := int(lb[0])
		if n < 1 || n > MaxLabelLen {
			return nil, fmt.Errorf("dictionary label %d has length %d", i, n)
		}
		if err := cr.read(lb[1:1+n], "dictionary"); err != nil {
			return nil, err
		}
		for _, c := range lb[1 : 1+n] {
			if !isLabelByte(c) {
				return nil, fmt.Errorf("dictionary label %d has invalid byte %q", i, c)
			}
		}
		s.dict[i] = dictLabel{w: packLabel(string(lb[1 : 1+n])), n: n}
	}
	rb, err := readBytes(cr, nRules*ruleLen, 0, "rule table")
	if err != nil {
		return nil, err
	}
	s.rules = make([]ruleVal, nRules)
	for i := range s.rules {
		b := rb[i*ruleLen:]
		if b[0] > 1 || Scope(b[1]) > Below || b[3] != 0 {
			return nil, fmt.Errorf("rule %d is malformed", i)
		}
		s.rules[i] = ruleVal{
			allow: b[0] == 1, scope: Scope(b[1]),
			payload: Payload{Action: Action(b[2]), List: le.Uint16(b[4:]), Category: le.Uint16(b[6:]), Data: le.Uint32(b[8:])},
		}
	}
	if s.rules[0] != (ruleVal{}) {
		return nil, errors.New("rule 0 must be empty")
	}
	pb, err := readBytes(cr, nPairs*pairLen, 0, "rule pairs")
	if err != nil {
		return nil, err
	}
	s.pairs = make([]rulePair, nPairs)
	for i := range s.pairs {
		p := rulePair{le.Uint32(pb[i*pairLen:]), le.Uint32(pb[i*pairLen+4:])}
		if int64(p.self) >= nRules || int64(p.below) >= nRules ||
			(p.self != 0 && s.rules[p.self].scope == Below) ||
			(p.below != 0 && s.rules[p.below].scope == Exact) ||
			(i == 0) != (p == rulePair{}) {
			return nil, fmt.Errorf("rule pair %d is malformed", i)
		}
		s.pairs[i] = p
	}
	want := cr.sum
	var tail [4]byte
	if err := cr.read(tail[:], "checksum"); err != nil {
		return nil, err
	}
	if got := le.Uint32(tail[:]); got != want {
		return nil, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	n, err := s.validate()
	if err != nil {
		return nil, err
	}
	s.n = n
	s.indexTop()
	return s, nil
}

// readChunk is how much a section read allocates ahead of the data that
// actually arrived: a corrupt or hostile length cannot make ReadSet
// allocate much more than the file holds.
const readChunk = 1 << 20

// readBytes reads an n-byte section into a slice of exactly n+pad bytes,
// growing it as data arrives.
func readBytes(cr *crcReader, n, pad int64, what string) ([]byte, error) {
	if cr.avail >= 0 && !cr.fits(n) {
		return nil, fmt.Errorf("truncated in the %s", what)
	}
	if cr.fits(n) {
		b := make([]byte, n+pad)
		return b, cr.read(b[:n], what)
	}
	b := make([]byte, 0, min(n, readChunk)+pad)
	for int64(len(b)) < n {
		if len(b) == cap(b)-int(pad) {
			nb := make([]byte, len(b), min(n, 2*int64(len(b)))+pad)
			copy(nb, b)
			b = nb
		}
		k := min(n-int64(len(b)), readChunk, int64(cap(b))-pad-int64(len(b)))
		if err := cr.read(b[len(b):len(b)+int(k)], what); err != nil {
			return nil, err
		}
		b = b[:len(b)+int(k)]
	}
	return b[:n+pad], nil
}

// readU32s reads a section of n little-endian uint32s.
func readU32s(cr *crcReader, n int64, what string) ([]uint32, error) {
	if cr.avail >= 0 && !cr.fits(4*n) {
		return nil, fmt.Errorf("truncated in the %s", what)
	}
	capHint := min(n, readChunk/4)
	if cr.fits(4 * n) {
		capHint = n
	}
	dst := make([]uint32, 0, capHint)
	var buf [32 << 10]byte
	for int64(len(dst)) < n {
		k := min(n-int64(len(dst)), int64(len(buf)/4))
		if err := cr.read(buf[:4*k], what); err != nil {
			return nil, err
		}
		for i := range k {
			dst = append(dst, binary.LittleEndian.Uint32(buf[4*i:]))
		}
	}
	return exact(dst), nil
}
