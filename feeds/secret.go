package feeds

// ResolveSecret returns the value of a credential written as header values
// are ("${NAME}" for an environment variable, "file:PATH" for a mounted
// secret, relative to baseDir, or the literal value), for packages that
// share the feeds' conventions (feeds/sightings). Errors name the variable
// or file, never the value.
func ResolveSecret(v, baseDir string) (string, error) { return resolveHeader(v, baseDir) }

// CheckSecret checks a credential's syntax without reading anything.
func CheckSecret(v string) error { return checkHeaderValue(v) }
