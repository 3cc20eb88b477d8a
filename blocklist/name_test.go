package blocklist

import "testing"

// TestCanonicalFastPathSameAsFull checks the fast path never changes
// CanonicalName's answer: same name, same error or not.
func TestCanonicalFastPathSameAsFull(t *testing.T) {
	long63 := "a23456789012345678901234567890123456789012345678901234567890123"
	for _, s := range []string{
		"", ".", "example.com", "example.com.", "Example.COM", "a_b.c-d.e",
		"-a.com", "a-.com", "a..com", ".com", "com..", "ex ample.com", "xn--bcher-kva.de",
		long63 + ".com", long63 + "4.com", "ä.com", "a.b.c.d.e.f.g", "0.0",
	} {
		checkCanonicalSame(t, s)
	}
}

func checkCanonicalSame(t *testing.T, s string) {
	t.Helper()
	got, gotErr := CanonicalName(s)
	want, wantErr := canonicalNameFull(s)
	if got != want || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("CanonicalName(%q) = %q, %v; full path gives %q, %v", s, got, gotErr, want, wantErr)
	}
}

// FuzzCanonicalName holds the fast path to the full one on any input.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"example.com", "Example.COM.", "-a.b", "a..b", "a_b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkCanonicalSame(t, s) })
}
