//go:build !linux

package rcvbuf

import (
	"net"
	"runtime"
)

// setBuffer asks for want bytes with SO_RCVBUF (net.UDPConn.SetReadBuffer)
// and returns the size set. There is no way past the kernel's cap here
// (force is Linux's), and where Linux caps silently the BSDs and macOS
// refuse a size above kern.ipc.maxsockbuf's share with ENOBUFS: the
// largest size the kernel accepts is found, so that the socket gets as
// much as the cap allows and the warning says it was capped.
func setBuffer(uc *net.UDPConn, want int, _ bool) (int, error) {
	return largestAccepted(want, uc.SetReadBuffer)
}

// kernelLimit names the cap: kern.ipc.maxsockbuf on macOS, FreeBSD and
// NetBSD, where a socket's buffer gets only a part of it (the rest is its
// bookkeeping), so it must be set some 15% above the size wanted.
func kernelLimit() limit {
	switch runtime.GOOS {
	case "darwin", "freebsd", "netbsd", "dragonfly":
		return limit{name: "kern.ipc.maxsockbuf", value: "see sysctl kern.ipc.maxsockbuf",
			raise: "Raise the cap with sysctl kern.ipc.maxsockbuf=N, some 15% above listen.udp_rcvbuf"}
	}
	return limit{name: "limit", value: "the kernel's",
		raise: "Lower listen.udp_rcvbuf to what the kernel grants, or raise its cap on socket buffers"}
}

// procNetFiles is none: only Linux lists each socket's drops.
func procNetFiles() []string { return nil }

// socketInode is not called where procNetFiles is none.
func socketInode(*net.UDPConn) (uint64, error) { return 0, nil }
