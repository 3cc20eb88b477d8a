package blocklist

import (
	"syscall"
	"unsafe"
)

// releasePages hands the whole pages inside b back to the kernel
// (MADV_DONTNEED): their contents are zero if read again. It is for the
// part of a pointer-free buffer a build has consumed, so that the buffer
// shrinks in memory as the structure built from it grows, rather than
// the two peaking together; the Go heap keeps the buffer as it is and
// frees it as usual. Errors are ignored: the pages just stay resident.
func releasePages(b []byte) {
	page := uintptr(syscall.Getpagesize())
	if len(b) < 2*int(page) {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return
	}
	_ = syscall.Madvise(b[lo-start:hi-start], syscall.MADV_DONTNEED)
}

// mapPages returns size bytes of fresh anonymous memory (scratch), zero
// and not resident until written.
func mapPages(size int) ([]byte, error) {
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
}

// unmapPages returns mapPages's memory to the kernel. An error leaves the
// mapping in place: it can only be a bad argument, which is a bug here.
func unmapPages(b []byte) { _ = syscall.Munmap(b) }
