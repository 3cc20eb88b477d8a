// Package suffixset is the plain-map baseline the blocklist trie is
// measured against (blocklist benchmarks, bench/triebench) and the
// benchmark generator (bench/gen) uses to keep allowed names off the
// list: a set of names probed with a name and each of its parents.
package suffixset

import "strings"

// Covers reports whether name or one of its parent names is in set,
// probing the longest first. name is taken as it is: no case folding,
// no trailing dot, as the set's names are written.
func Covers(set map[string]struct{}, name string) bool {
	for {
		if _, ok := set[name]; ok {
			return true
		}
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return false
		}
		name = name[i+1:]
	}
}
