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
