package feeds

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/bulwark-dns/bulwark/blocklist"
)

// MaxLineLen is the longest line a parser accepts. Longer lines are rejected
// (ReasonLineTooLong) and skipped without aborting the parse.
const MaxLineLen = 64 << 10

// maxTextLen bounds LineError.Text so that a junk line cannot bloat reports.
const maxTextLen = 256

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineReader streams lines out of a reader without allocating per line. The
// slice it returns is valid until the next call to next. It splits the
// lines in a buffer of its own, as bufio.Reader.ReadSlice would (the same
// lines, over-long ones and errors alike: lines_test.go holds the two to
// each other), without ReadSlice's bookkeeping per line, which with the
// calls around it was a twentieth of a domains list's parse and Add.
type lineReader struct {
	r       io.Reader
	buf     []byte // buf[rd:wr] is read and not yet split
	rd, wr  int
	n       int    // number of the current line, 1-based
	line    []byte // current line, without "\n" or "\r\n"
	tooLong bool   // line exceeded the buffer (MaxLineLen); line holds its start
	err     error  // the read error that ended the input (io.EOF included); buffered lines come first
	head    []byte // copy of an over-long line's start
}

func newLineReader(r io.Reader) *lineReader { return newLineReaderSize(r, MaxLineLen) }

// newLineReaderSize is newLineReader with a buffer of size bytes: lines
// of size bytes or more, their "\n" included, are over-long.
func newLineReaderSize(r io.Reader, size int) *lineReader {
	return &lineReader{r: r, buf: make([]byte, max(size, maxTextLen))}
}

// next advances to the next line and reports whether there is one.
func (lr *lineReader) next() bool {
	lr.tooLong = false
	for {
		if i := bytes.IndexByte(lr.buf[lr.rd:lr.wr], '\n'); i >= 0 { // nearly every line
			b := lr.buf[lr.rd : lr.rd+i+1]
			lr.rd += i + 1
			return lr.take(b)
		}
		if lr.err != nil {
			// The last line, unterminated, at the end of the input;
			// after any other error the partial line is dropped.
			if lr.rd == lr.wr || !errors.Is(lr.err, io.EOF) {
				return false
			}
			b := lr.buf[lr.rd:lr.wr]
			lr.rd = lr.wr
			return lr.take(b)
		}
		if lr.wr-lr.rd == len(lr.buf) {
			return lr.skipLong()
		}
		lr.fill()
	}
}

// skipLong makes the over-long line the buffer is full of the current
// one, its start kept in head, and skips the rest of it.
func (lr *lineReader) skipLong() bool {
	lr.tooLong = true
	lr.head = append(lr.head[:0], lr.buf[lr.rd:lr.rd+maxTextLen]...)
	lr.rd = lr.wr
	for {
		if i := bytes.IndexByte(lr.buf[lr.rd:lr.wr], '\n'); i >= 0 {
			lr.rd += i + 1
			return lr.take(lr.head)
		}
		lr.rd = lr.wr
		if lr.err != nil {
			return errors.Is(lr.err, io.EOF) && lr.take(lr.head)
		}
		lr.fill()
	}
}

// errBadRead is the error of a reader that returned an impossible count.
var errBadRead = errors.New("reader returned an invalid count")

// fill moves the unsplit bytes to the buffer's start and reads once
// more, as bufio.Reader's fill: up to 100 empty reads, then
// io.ErrNoProgress.
func (lr *lineReader) fill() {
	if lr.rd > 0 {
		lr.wr = copy(lr.buf, lr.buf[lr.rd:lr.wr])
		lr.rd = 0
	}
	for range 100 {
		n, err := lr.r.Read(lr.buf[lr.wr:])
		if n < 0 || n > len(lr.buf)-lr.wr {
			lr.err = errBadRead
			return
		}
		lr.wr += n
		if err != nil {
			lr.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	lr.err = io.ErrNoProgress
}

// take makes b, a line as read, the current line.
func (lr *lineReader) take(b []byte) bool {
	lr.n++
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if lr.n == 1 {
		b = bytes.TrimPrefix(b, utf8BOM)
	}
	lr.line = b
	return true
}

// Err returns the read error that ended the stream, or nil at a clean end.
func (lr *lineReader) Err() error {
	if errors.Is(lr.err, io.EOF) {
		return nil
	}
	return lr.err
}

// tooLongError is the rejection for the current, over-long line.
func (lr *lineReader) tooLongError() LineError {
	return LineError{Line: lr.n, Text: clip(lr.line), Reason: ReasonLineTooLong}
}

// data strips a "#" comment and surrounding blanks from a line. Domain names
// cannot hold "#", so a "#" anywhere starts a comment ("a.com#note" too).
func data(line []byte) []byte {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return trimBlank(line)
}

func isBlank(c byte) bool { return blankByte[c] }

// blankByte marks the blanks between fields: a table, as nextField asks
// of every byte of every name.
var blankByte = [256]bool{' ': true, '\t': true, '\r': true, '\v': true, '\f': true}

func trimBlank(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextField splits the first blank-separated field off b (which must not
// start with a blank) and returns it and the trimmed rest.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	// Eight bytes a step while none is a control byte or a space (a
	// blank's at most 0x20; a name's bytes are above it), then byte by
	// byte: the byte loop alone was a tenth of a domains list's parse.
	const ones = 0x0101010101010101
	low := func(w uint64) bool { return (w-ones*0x21)&^w&(ones*0x80) != 0 } // some byte is < 0x21
	for ; i+8 <= len(b); i += 8 {
		if low(binary.LittleEndian.Uint64(b[i:])) {
			break
		}
	}
	// Past the last whole word, the word that ends b settles the bytes
	// left (most fields, a whole name, end there) in one test rather
	// than one a byte.
	if n := len(b); i+8 > n && i < n && n >= 8 && !low(binary.LittleEndian.Uint64(b[n-8:])) {
		i = n
	}
	for i < len(b) && !isBlank(b[i]) {
		i++
	}
	return b[:i], trimBlank(b[i:])
}

// plainToken reports whether line is one field and nothing else: not
// empty, and no byte of it a blank, a control byte or '#' (no byte below
// 0x24), so that data(line) and its first field are line itself and the
// rest is empty. It tests eight bytes a step, the last word overlapping
// the one before it, where data's search for '#', its trim and
// nextField's scan were three passes over every line of a domains list.
func plainToken(line []byte) bool {
	const ones = 0x0101010101010101
	low := func(w uint64) bool { return (w-ones*0x24)&^w&(ones*0x80) != 0 } // some byte is < 0x24
	n := len(line)
	if n < 8 {
		for _, c := range line {
			if c < 0x24 {
				return false
			}
		}
		return n > 0
	}
	for i := 0; i+8 <= n; i += 8 {
		if low(binary.LittleEndian.Uint64(line[i:])) {
			return false
		}
	}
	return !low(binary.LittleEndian.Uint64(line[n-8:]))
}

// hasPair reports whether b starts with the two bytes c0 c1 ("*.", "@@",
// "||"): two compares, where bytes.HasPrefix calls the general compare,
// a twentieth of a domains list's parse when it checked every name.
func hasPair(b []byte, c0, c1 byte) bool { return len(b) >= 2 && b[0] == c0 && b[1] == c1 }

// clip converts b for LineError.Text, bounded to maxTextLen bytes.
func clip(b []byte) string {
	if len(b) > maxTextLen {
		return string(b[:maxTextLen]) + "..."
	}
	return string(b)
}

// parseLines runs line, for each line of r, with its number and bytes as
// read, after rejecting over-long lines: the loop of every line-oriented
// format. The stats line fills in are returned with Lines set; a is the
// parse's name arena, for emitName.
func parseLines(r io.Reader, reject func(LineError), line func(n int, raw []byte, st *Stats, a *nameArena)) (Stats, error) {
	lr := newLineReader(r)
	var st Stats
	var a nameArena
	for lr.next() {
		if lr.tooLong {
			reject(lr.tooLongError())
			continue
		}
		line(lr.n, lr.line, &st, &a)
	}
	st.Lines = lr.n
	return st, lr.Err()
}

// emitName emits the entry of scope and allow for the name tok on line
// n, its string from a, or rejects text with the reason tok is not a
// valid name. It takes the entry's fields rather than an Entry, so that
// the entry is built once, where emit receives it, not copied there.
func emitName(n int, tok, text []byte, a *nameArena, scope blocklist.Scope, allow bool, emit func(Entry), reject func(LineError)) {
	name, reason := canonicalTokIn(a, tok, false)
	if reason != "" {
		reject(LineError{Line: n, Text: clip(text), Reason: reason})
		return
	}
	emit(Entry{Name: name.String(), Scope: scope, Allow: allow, Line: n, canon: name})
}
