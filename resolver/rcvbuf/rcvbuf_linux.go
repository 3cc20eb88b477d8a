package rcvbuf

import (
	"errors"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// rmemMaxPath is where the kernel's cap on SO_RCVBUF is read from.
const rmemMaxPath = "/proc/sys/net/core/rmem_max"

// setBuffer asks for want bytes and returns what the kernel granted. As
// root it asks with SO_RCVBUFFORCE, which may exceed net.core.rmem_max;
// otherwise (or if that is refused) the kernel caps the size at rmem_max
// without an error.
func setBuffer(uc *net.UDPConn, want int, force bool) (int, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		forced := force && unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want) == nil
		if !forced {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, want); serr != nil {
				return
			}
		}
		// Linux reports twice the size asked for (the other half is its
		// bookkeeping allowance); half of it is the size that was set.
		var v int
		v, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		got = v / 2
	})
	return got, errors.Join(cerr, serr)
}

// kernelLimit is Linux's cap, net.core.rmem_max, read now.
func kernelLimit() limit {
	l := limit{name: "net.core.rmem_max", value: "unknown",
		raise:   "Raise the cap with sysctl -w net.core.rmem_max=N, or run with CAP_NET_ADMIN",
		counted: " (bulwark_udp_receive_drops_total)"}
	if b, err := os.ReadFile(rmemMaxPath); err == nil {
		l.value = strings.TrimSpace(string(b))
	}
	return l
}

// procNetFiles are the tables that list each UDP socket's drops.
func procNetFiles() []string { return []string{"/proc/net/udp", "/proc/net/udp6"} }

// socketInode is the inode number /proc/net/udp lists uc's socket under.
func socketInode(uc *net.UDPConn) (uint64, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, serr
}
