package blocklist

import (
	"sync"
	"testing"
)

func TestMatchDoesNotAllocate(t *testing.T) {
	s := buildRules(t, testRules(3000))
	queries := []string{
		"", ".", "com", "www.example.com.", // misses
		testRules(3000)[7].Name, "X." + testRules(3000)[9].Name + ".", // hits
		`a\.b\032.c.com.`, "ex\xc3\xa4mple.com",
	}
	for _, q := range queries {
		if n := testing.AllocsPerRun(200, func() { s.Match(q) }); n != 0 {
			t.Errorf("Match(%q) allocates %.1f times per call", q, n)
		}
	}
}

// TestConcurrentMatch has many goroutines match against one set at once;
// under -race it proves Match only reads.
func TestConcurrentMatch(t *testing.T) {
	rules := testRules(2000)
	s := buildRules(t, rules)
	queries := testQueries(rules)
	type result struct {
		m  Match
		ok bool
	}
	want := make([]result, len(queries))
	for i, q := range queries {
		want[i].m, want[i].ok = s.Match(q)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queries {
				j := (i + g*len(queries)/16) % len(queries)
				m, ok := s.Match(queries[j])
				if m != want[j].m || ok != want[j].ok {
					t.Errorf("goroutine %d: Match(%q) = %+v/%v, want %+v/%v", g, queries[j], m, ok, want[j].m, want[j].ok)
					return
				}
				s.Walk(queries[j], func(Match) {})
			}
		}()
	}
	wg.Wait()
}
