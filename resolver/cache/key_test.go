package cache

import "testing"

func TestCanonicalName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"www.example.com.", "www.example.com."},
		{"WWW.Example.COM.", "www.example.com."},
		{".", "."},
		{`\065BC.example.`, "abc.example."},
		{`a\.B.example.`, `a\.b.example.`},
		{`\000\255.example.`, `\000\255.example.`},
		{`\(x\).example.`, `\(x\).example.`},
		{"ÄB.example.", "Äb.example."}, // ASCII folding only (RFC 4343)
		{"relative", "relative"},
	}
	for _, tt := range tests {
		if got := canonicalName(tt.in); got != tt.want {
			t.Errorf("canonicalName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalNameNoAllocWhenLower(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { canonicalName("www.example.com.") }); n != 0 {
		t.Fatalf("%v allocations for a lower-case name, want 0", n)
	}
}
