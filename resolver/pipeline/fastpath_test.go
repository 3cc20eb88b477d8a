package pipeline

import (
	"strings"
	"testing"
)

// A name the arena handed out keeps its octets however the caller's
// buffer and later names change, across chunks, at every length.
func TestNameArenaClone(t *testing.T) {
	long := strings.Repeat("a", 62) + "." + strings.Repeat("b", 62) + "." + strings.Repeat("c", 62) + "." + strings.Repeat("d", 60)
	tests := []struct {
		name  string
		names []string
	}{
		{"empty", []string{""}},
		{"one", []string{"evil.example"}},
		{"longest name", []string{long}},
		{"longer than a chunk", []string{strings.Repeat("x", nameArenaChunk+1), "after.example"}},
		{"across chunks", func() []string {
			var ns []string
			for i := 0; len(ns) < 3*nameArenaChunk/len(long)+5; i++ {
				ns = append(ns, long[:1+i%len(long)], "x.evil.example")
			}
			return ns
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a nameArena
			var got []string
			buf := make([]byte, 0, nameArenaChunk+1)
			for _, n := range tt.names {
				buf = append(buf[:0], n...)
				got = append(got, a.clone(string(buf)))
				for i := range buf { // the caller's buffer is reused
					buf[i] = '#'
				}
			}
			for i, n := range tt.names {
				if got[i] != n {
					t.Fatalf("name %d: %q, want %q", i, got[i], n)
				}
			}
		})
	}
}
