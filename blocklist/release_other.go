//go:build !linux

package blocklist

import "errors"

// releasePages does nothing where MADV_DONTNEED is not known to zero
// pages (see release_linux.go): the buffer stays resident until freed.
func releasePages(b []byte) {}

// mapPages is not used where the build does not know the system's
// mappings: scratch falls back to the heap.
func mapPages(int) ([]byte, error) {
	return nil, errors.New("anonymous mappings not used on this system")
}

func unmapPages([]byte) {}
