package blocklist

import (
	"strings"
	"testing"
)

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
	f.Fuzz(func(t *testing.T, s string) {
		checkCanonicalSame(t, s)
		if got, want := isCanonical(s), isCanonicalBytes(s); got != want {
			t.Fatalf("isCanonical(%q) = %v, the byte-at-a-time definition says %v", s, got, want)
		}
	})
}

// isCanonicalBytes is isCanonical one byte at a time: the definition the
// word-at-a-time version is held to.
func isCanonicalBytes(s string) bool {
	if len(s) > MaxNameLen {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
			continue
		}
		n := i - start
		if n == 0 || n > MaxLabelLen || s[start] == '-' || s[i-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}

// TestIsCanonicalSWAR holds isCanonical to isCanonicalBytes on names
// that put every kind of byte and every label boundary at each position
// of a word, and across words.
func TestIsCanonicalSWAR(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	cases := []string{
		"", ".", "a", "-", "_", "a.b", "ab.cd", "example.com", "a_b.c-d.e", "0.0",
		long63, long63 + "a", long63 + ".com", "com." + long63, "com." + long63 + "a", "a." + long63 + "a.b",
		strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "ab", strings.Repeat("a.", 127),
	}
	// Every byte at every position of names of 1 to 20 bytes, in a valid
	// name's context: the byte itself, and a dot or hyphen next to it.
	for n := 1; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{'a', 'z', '0', '9', '-', '_', '.', 'A', 'Z', '/', ':', '@', '`', '{', '[', ' ', 0, 0x7f, 0x80, 0xff, ',', '+'} {
				b := []byte(strings.Repeat("k", n))
				b[pos] = c
				cases = append(cases, string(b))
				if pos+1 < n {
					b[pos+1] = '.'
					cases = append(cases, string(b))
					b[pos+1] = '-'
					cases = append(cases, string(b))
				}
			}
		}
	}
	for _, s := range cases {
		if got, want := isCanonical(s), isCanonicalBytes(s); got != want {
			t.Errorf("isCanonical(%q) = %v, the byte-at-a-time definition says %v", s, got, want)
		}
	}
}

// TestRuleCanon: a Rule carrying the Name it was canonicalised to is
// taken as it is; any other Name, even one equal to it, is checked.
func TestRuleCanon(t *testing.T) {
	canon, err := Canonical("Ads.Example.COM.")
	if err != nil {
		t.Fatal(err)
	}
	equal := string([]byte(canon.String())) // equal bytes, other memory
	tests := []struct {
		desc    string
		rule    Rule
		want    string
		wantErr bool
		skipped bool // Add takes the name without checking it
	}{
		{"its own string", Rule{Name: canon.String(), Canon: canon}, "ads.example.com", false, true},
		{"an equal string", Rule{Name: equal, Canon: canon}, "ads.example.com", false, false},
		{"another name", Rule{Name: "Other.NET", Canon: canon}, "other.net", false, false},
		{"an invalid name", Rule{Name: "bad..com", Canon: canon}, "", true, false},
		{"no Canon", Rule{Name: "x.org."}, "x.org", false, false},
		{"the root", Rule{Name: "", Canon: Name{}}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.rule.Canon.holds(tt.rule.Name); got != tt.skipped {
				t.Errorf("holds = %v, want %v", got, tt.skipped)
			}
			got, err := ruleName(tt.rule)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ruleName = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
			b := NewBuilder()
			if err := b.Add(tt.rule); (err != nil) != tt.wantErr {
				t.Fatalf("Add: %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			s, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := s.Match(tt.want); !ok || m.Offset != 0 {
				t.Errorf("Match(%q) = %+v, %v", tt.want, m, ok)
			}
		})
	}
}
