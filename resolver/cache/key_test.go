package cache

import (
	"testing"

	"github.com/miekg/dns"
)

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

func TestKeyString(t *testing.T) {
	// Different keys never share a coalescing key.
	keys := []key{
		{name: "a.", qtype: dns.TypeA, qclass: dns.ClassINET},
		{name: "a.", qtype: dns.TypeA, qclass: dns.ClassINET, flags: flagDO},
		{name: "a.", qtype: dns.TypeA, qclass: dns.ClassINET, flags: flagCD},
		{name: "a.", qtype: dns.TypeAAAA, qclass: dns.ClassINET},
		{name: "a.", qtype: dns.TypeA, qclass: dns.ClassCHAOS},
		{name: "b.", qtype: dns.TypeA, qclass: dns.ClassINET},
	}
	seen := map[string]key{}
	for _, k := range keys {
		if prev, dup := seen[k.String()]; dup {
			t.Fatalf("%+v and %+v share %q", prev, k, k.String())
		}
		seen[k.String()] = k
	}
}
