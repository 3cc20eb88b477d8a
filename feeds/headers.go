package feeds

import (
	"maps"
	"slices"

	"github.com/bulwark-dns/bulwark/internal/secretref"
)

// Header values may name secrets rather than hold them: see
// internal/secretref ("${NAME}" from the environment, "file:PATH").

func checkHeaderValue(v string) error { return secretref.Check(v) }

func resolveHeader(v, baseDir string) (string, error) { return secretref.Resolve(v, baseDir) }

// sortedKeys lists a map's keys in order, so that what is built from the
// map (requests, category indexes) is the same on every load.
func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
