//go:build !linux

package blocklist

// releasePages does nothing where MADV_DONTNEED is not known to zero
// pages (see release_linux.go): the buffer stays resident until freed.
func releasePages(b []byte) {}
