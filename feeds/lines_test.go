package feeds

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, f := range []Format{formats[FormatDomains], formats[FormatHosts]} {
		t.Run(f.Name(), func(t *testing.T) {
			r := io.MultiReader(strings.NewReader("0.0.0.0 a.example\n0.0.0.0 b.exa"), iotest.ErrReader(boom))
			var n int
			st, err := f.Parse(r, func(Entry) { n++ }, func(LineError) {})
			if !errors.Is(err, boom) {
				t.Errorf("err = %v, want boom", err)
			}
			if st.Lines != 1 {
				t.Errorf("Lines = %d, want 1 (the partial line is not delivered)", st.Lines)
			}
		})
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", MaxLineLen)
	tests := []struct {
		name, input string
		lines       []string
		tooLong     []bool
	}{
		{"empty", "", nil, nil},
		{"lf", "a\nb\n", []string{"a", "b"}, []bool{false, false}},
		{"crlf no final", "a\r\nb", []string{"a", "b"}, []bool{false, false}},
		{"lone cr", "\r\n", []string{""}, []bool{false}},
		{"blank lines", "\n\n", []string{"", ""}, []bool{false, false}},
		{"bom", "\ufeffa\n", []string{"a"}, []bool{false}},
		{"long", long + "\nb\n", []string{long[:maxTextLen], "b"}, []bool{true, false}},
		{"long at eof", "a\n" + long + long, []string{"a", long[:maxTextLen]}, []bool{false, true}},
		{"just fits", long[1:] + "\n", []string{long[1:]}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLineReader(iotest.OneByteReader(strings.NewReader(tt.input)))
			var lines []string
			var tooLong []bool
			for lr.next() {
				lines = append(lines, string(lr.line))
				tooLong = append(tooLong, lr.tooLong)
			}
			if lr.Err() != nil {
				t.Fatal(lr.Err())
			}
			if len(lines) != len(tt.lines) {
				t.Fatalf("%d lines, want %d", len(lines), len(tt.lines))
			}
			for i := range lines {
				if lines[i] != tt.lines[i] || tooLong[i] != tt.tooLong[i] {
					t.Errorf("line %d = %.20q (too long %v), want %.20q (%v)", i+1, lines[i], tooLong[i], tt.lines[i], tt.tooLong[i])
				}
			}
		})
	}
}

// A nameArena's strings are the bytes they were made from, and stay so
// while the arena hands out more and the source buffer is reused: a
// block is only appended to. Names too long for a block, and a nil
// arena, get strings of their own.
func TestNameArena(t *testing.T) {
	long := strings.Repeat("a", arenaBlock/16+1)
	tests := []struct {
		name  string
		arena *nameArena
		in    []string
	}{
		{"nil arena", nil, []string{"a.example", ""}},
		{"empty and short", &nameArena{}, []string{"", "a", "b.example", "c.d.example"}},
		{"past a block", &nameArena{}, slices.Repeat([]string{"0123456789abcdef.example"}, 3*arenaBlock/24)},
		{"too long for the arena", &nameArena{}, []string{"x.example", long, "y.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, 0, len(long))
			var got []string
			for _, s := range tt.in {
				buf = append(buf[:0], s...)
				got = append(got, tt.arena.string(buf))
				clear(buf) // the line buffer is reused for the next line
			}
			for i, s := range tt.in {
				if got[i] != s {
					t.Fatalf("string %d = %q, want %q", i, got[i], s)
				}
			}
		})
	}
}

// TestNextFieldWords holds nextField's word-at-a-time scan to the byte
// loop: every blank, and bytes either side of 0x20 and 0x80, at every
// position of fields of up to 24 bytes.
func TestNextFieldWords(t *testing.T) {
	ref := func(b []byte) ([]byte, []byte) {
		i := 0
		for i < len(b) && !isBlank(b[i]) {
			i++
		}
		return b[:i], trimBlank(b[i:])
	}
	for n := 1; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{' ', '\t', '\r', '\v', '\f', '\n', 0, 0x1f, 0x21, 0x7f, 0x80, 0xa0, 0xff, '#', 'a'} {
				b := bytes.Repeat([]byte{'x'}, n)
				b[pos] = c
				b = append(b, " rest "...)
				if pos == 0 && isBlank(c) {
					continue // nextField's input never starts with a blank
				}
				gf, gr := nextField(b)
				wf, wr := ref(b)
				if !bytes.Equal(gf, wf) || !bytes.Equal(gr, wr) {
					t.Errorf("nextField(%q) = %q, %q; byte by byte %q, %q", b, gf, gr, wf, wr)
				}
			}
		}
	}
}

// plainTokenBytes is plainToken byte by byte: not empty, no byte below
// 0x24 (a blank, a control byte, '!', '"' or '#').
func plainTokenBytes(b []byte) bool {
	for _, c := range b {
		if c < 0x24 {
			return false
		}
	}
	return len(b) > 0
}

// checkPlainToken holds plainToken to plainTokenBytes and to what
// ParseDomains takes it for: a line that is its own data and one field.
func checkPlainToken(t *testing.T, b []byte) {
	t.Helper()
	got := plainToken(b)
	if want := plainTokenBytes(b); got != want {
		t.Fatalf("plainToken(%q) = %v, byte by byte %v", b, got, want)
	}
	if !got {
		return
	}
	if d := data(b); !bytes.Equal(d, b) {
		t.Fatalf("plainToken(%q), but data is %q", b, d)
	}
	if f, rest := nextField(b); !bytes.Equal(f, b) || len(rest) > 0 {
		t.Fatalf("plainToken(%q), but nextField = %q, %q", b, f, rest)
	}
}

// TestPlainTokenWords tries every byte either side of 0x24 and 0x80, and
// every blank, at every position of lines of up to 24 bytes.
func TestPlainTokenWords(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < max(n, 1); pos++ {
			for _, c := range []byte{' ', '\t', '\r', '\v', '\f', '\n', 0, 0x1f, 0x21, 0x22, '#', '$', 0x7f, 0x80, 0xa0, 0xff, 'a'} {
				b := bytes.Repeat([]byte{'x'}, n)
				if n > 0 {
					b[pos] = c
				}
				checkPlainToken(t, b)
			}
		}
	}
}

func FuzzPlainToken(f *testing.F) {
	for _, s := range []string{"", "a.com", "a.com # x", "*.example.com", "0.0.0.0 a.com", "abcdefgh#", "abcdefghi\x01"} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkPlainToken)
}

// refLines is the lines, over-long flags and error of in as
// bufio.Reader.ReadSlice splits them with a buffer of size bytes: the
// reference lineReader is held to (lineReader was ReadSlice's loop).
func refLines(r io.Reader, size int) (lines []string, long []bool, err error) {
	br := bufio.NewReaderSize(r, size)
	var head []byte
	for {
		b, err := br.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			tooLong = true
			head = append(head[:0], b[:min(len(b), maxTextLen)]...)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			b = head
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if len(b) == 0 && !tooLong {
				return lines, long, nil
			}
		default:
			return lines, long, err
		}
		b = bytes.TrimSuffix(b, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		if len(lines) == 0 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		lines, long = append(lines, string(b)), append(long, tooLong)
		if err != nil {
			return lines, long, nil
		}
	}
}

// checkLineReader holds lineReader with a buffer of size bytes to
// refLines on in, read in chunks of at most chunk bytes (0: whole), with
// an error after it unless fail is nil.
func checkLineReader(t *testing.T, in []byte, size, chunk int, fail error) {
	t.Helper()
	src := func() io.Reader {
		var r io.Reader = bytes.NewReader(in)
		if chunk > 0 {
			r = &chunkReader{r: r, n: chunk}
		}
		if fail != nil {
			r = io.MultiReader(r, iotest.ErrReader(fail))
		}
		return r
	}
	want, wantLong, wantErr := refLines(src(), size)
	lr := newLineReaderSize(src(), size)
	var got []string
	var gotLong []bool
	for lr.next() {
		got, gotLong = append(got, string(lr.line)), append(gotLong, lr.tooLong)
		if lr.n != len(got) {
			t.Fatalf("line %d numbered %d", len(got), lr.n)
		}
	}
	if !slices.Equal(got, want) || !slices.Equal(gotLong, wantLong) || !errors.Is(lr.Err(), wantErr) || (wantErr == nil) != (lr.Err() == nil) {
		t.Fatalf("size %d chunk %d on %q:\n got %q %v, err %v\nwant %q %v, err %v", size, chunk, in, got, gotLong, lr.Err(), want, wantLong, wantErr)
	}
}

// chunkReader reads at most n bytes a call, and sometimes none.
type chunkReader struct {
	r    io.Reader
	n, i int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.i++; c.i%3 == 0 {
		return 0, nil
	}
	return c.r.Read(p[:min(len(p), c.n)])
}

// TestLineReaderReference: lines that fit, just fit and do not, at the
// end of the input or not, with and without a read error, in chunks.
func TestLineReaderReference(t *testing.T) {
	const size = maxTextLen + 8
	x := func(n int) string { return strings.Repeat("x", n) }
	inputs := []string{"", "\n", "a", "a\n", "a\r\nb", "\ufeffa\nb\n", "\ufeff", "\r",
		x(size-1) + "\n", x(size) + "\n", x(size+1) + "\nb\n", x(size), x(size - 1), x(3*size) + "\n\n",
		"a\n" + x(size) + "\r\n" + x(2*size), x(maxTextLen-1) + "\r" + x(size) + "\n"}
	boom := errors.New("boom")
	for _, in := range inputs {
		for _, chunk := range []int{0, 1, 7, size - 1} {
			checkLineReader(t, []byte(in), size, chunk, nil)
			checkLineReader(t, []byte(in), size, chunk, boom)
		}
	}
}

func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\r\nb\n\ufeffc"), uint16(0), uint8(0), false)
	f.Add(bytes.Repeat([]byte("x"), 700), uint16(10), uint8(3), true)
	f.Fuzz(func(t *testing.T, in []byte, size uint16, chunk uint8, fail bool) {
		var err error
		if fail {
			err = errors.New("boom")
		}
		checkLineReader(t, in, maxTextLen+int(size%512), int(chunk), err)
	})
}
