//go:build !amd64 && !arm64

package blocklist

// prefetch does nothing here (prefetch.go): the passes just wait for
// their misses.
func prefetch(p *byte) {}
