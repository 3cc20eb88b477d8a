package feeds

import (
	"errors"
	"io"
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
