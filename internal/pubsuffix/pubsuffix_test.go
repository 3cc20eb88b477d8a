package pubsuffix

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestIs(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"com", true},
		{"zz-no-such-tld", true}, // the default rule "*"
		{"co.uk", true},
		{"github.io", true},
		{"example.com", false},
		{"www.example.co.uk", false},
		{"anything.ck", true}, // *.ck
		{"www.ck", false},     // !www.ck
		{"a.anything.ck", false},
		{"foo.kawasaki.jp", true},   // *.kawasaki.jp
		{"city.kawasaki.jp", false}, // !city.kawasaki.jp
		{"kawasaki.jp", false},
		{"1.2.3.4", true}, // x/net returns an IP address whole
		{"::1", true},
		{"CO.UK", false}, // x/net matches labels as written
		{"com.", false},
		{".com", false},
		{"a..com", false},
	}
	for _, tt := range tests {
		if got := Is(tt.name); got != tt.want {
			t.Errorf("Is(%q) = %v, want %v", tt.name, got, tt.want)
		}
		if got := xnet(tt.name); got != tt.want {
			t.Errorf("x/net on %q says %v, the table says %v: fix the table", tt.name, got, tt.want)
		}
	}
}

// TestDifferential holds Is to x/net's answer on every rule and on the
// names around each: the rule itself, names below it, its parent, and
// the spellings x/net treats apart (case, dots).
func TestDifferential(t *testing.T) {
	probes := 0
	for _, r := range strings.Split(ruleText, "\n") {
		if r == "" || r[0] == '#' {
			continue
		}
		r = strings.TrimPrefix(strings.TrimPrefix(r, "!"), "*.")
		names := []string{r, "x." + r, "www." + r, "a.b." + r, strings.ToUpper(r), r + ".", "." + r, "x.." + r}
		if i := strings.IndexByte(r, '.'); i >= 0 {
			names = append(names, r[i+1:], "x."+r[i+1:])
		}
		for _, n := range names {
			probes++
			want := xnet(n)
			if got := Is(n); got != want {
				t.Errorf("Is(%q) = %v, x/net says %v", n, got, want)
			}
			if got := IsName(n); !strings.Contains(n, ":") && got != want {
				t.Errorf("IsName(%q) = %v, x/net says %v", n, got, want)
			}
		}
	}
	if probes < 50000 {
		t.Fatalf("only %d probes: is ruleText empty?", probes)
	}
}

// TestFilter checks that the Bloom filter holds every rule and lets few
// other names through to the maps (the hash is fixed, so this is exact).
func TestFilter(t *testing.T) {
	s := loadSets()
	for r := range s.exact {
		if !s.may.has(hash(r, exactSeed)) {
			t.Fatalf("rule %q is not in the filter", r)
		}
	}
	for p := range s.wild {
		if !s.may.has(hash(p, wildSeed)) {
			t.Fatalf("wildcard parent %q is not in the filter", p)
		}
	}
	const n = 100000
	through := 0
	for i := range n {
		if s.may.has(hash(fmt.Sprintf("n%dx.com", i*7919), exactSeed)) {
			through++
		}
	}
	if through > n/20 {
		t.Errorf("%d of %d names that are no rule pass the filter, want under 5%%", through, n)
	}
}

// TestVersion fails when go.mod requires another golang.org/x/net than
// the one rules.txt was generated from: run go generate ./internal/pubsuffix.
func TestVersion(t *testing.T) {
	head, _, _ := strings.Cut(ruleText, "\n")
	fields := strings.Fields(head)
	if len(fields) < 3 || fields[0] != "#" || fields[1] != "golang.org/x/net" {
		t.Fatalf("rules.txt starts %q, not with the x/net version: run go generate ./internal/pubsuffix", head)
	}
	xnetVersion := fields[2]
	f, err := os.Open("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "golang.org/x/net v0.62.0" in a require block, or after "require".
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) < 2 || fields[0] != "golang.org/x/net" {
			continue
		}
		if fields[1] != xnetVersion {
			t.Fatalf("go.mod requires golang.org/x/net %s, rules.txt is from %s: run go generate ./internal/pubsuffix", fields[1], xnetVersion)
		}
		return
	}
	t.Fatal("go.mod does not require golang.org/x/net")
}

// FuzzIs holds Is to x/net's answer on any string.
func FuzzIs(f *testing.F) {
	for _, s := range []string{"com", "co.uk", "x.ck", "www.ck", "city.kawasaki.jp", "1.2.3.4", "example.com", "a.b.github.io", "xn--p1ai", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := xnet(name)
		if got := Is(name); got != want {
			t.Errorf("Is(%q) = %v, x/net says %v", name, got, want)
		}
		if got := IsName(name); !strings.Contains(name, ":") && got != want {
			t.Errorf("IsName(%q) = %v, x/net says %v", name, got, want)
		}
	})
}

// BenchmarkIs runs on 64k distinct list-like names, too many for every
// lookup to hit the cache, as in a parse.
func BenchmarkIs(b *testing.B) {
	tlds := []string{"com", "net", "org", "info", "ru", "xyz", "de", "top", "io", "co.uk"}
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = fmt.Sprintf("n%dx.%s", i*7919, tlds[i%len(tlds)])
		if i%3 == 0 {
			names[i] = "www." + names[i]
		}
	}
	b.Run("table", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			Is(names[i%len(names)])
		}
	})
	b.Run("xnet", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			xnet(names[i%len(names)])
		}
	})
}
