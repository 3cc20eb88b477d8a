package feeds

import (
	"slices"

	"github.com/bulwark-dns/bulwark/internal/secretref"
)

// Header values may name secrets rather than hold them: see
// internal/secretref ("${NAME}" from the environment, "file:PATH").

func checkHeaderValue(v string) error { return secretref.Check(v) }

func resolveHeader(v, baseDir string) (string, error) { return secretref.Resolve(v, baseDir) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
